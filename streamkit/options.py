"""Options: the building block of typed, validated settings.

An :class:`Option` is a descriptor declared on a settings class, so each
setting is a real attribute that type checkers and IDEs see, and assigning to
it runs the option's validator.  The validators here take ``(name, value)``
and also parse text, because environment variables and CLI flags arrive as
strings.
"""

from __future__ import annotations

import logging
import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar, overload

from streamkit.exceptions import ConfigurationError

if TYPE_CHECKING:
    from streamkit.settings import Settings

logger = logging.getLogger(__name__)

#: Environment variables named ``STREAMKIT_<SETTING>`` override settings.
ENV_PREFIX = "STREAMKIT_"

T = TypeVar("T")


class DerivedDefault(NamedTuple):
    """A default computed from other settings; ``shown`` is how docs print it."""

    shown: str
    compute: Callable[[Settings], Any]


class OptionInfo(NamedTuple):
    """What :meth:`Settings.options` says about one setting."""

    name: str
    default: Any
    doc: str
    env_var: str


class Option(Generic[T]):
    """One setting: a typed attribute of :class:`Settings`, validated when set.

    Args:
        default: the value when neither code nor environment sets it, or a
            :class:`DerivedDefault`.
        validate: ``validate(name, value)`` returns the value in the option's
            type or raises :class:`ConfigurationError`; it also parses the
            strings that environment variables and the CLI hand over.
        doc: one sentence for ``--help``, the README and :meth:`options`.
        env: whether ``STREAMKIT_<NAME>`` may set it.
    """

    def __init__(
        self,
        default: T | DerivedDefault,
        validate: Callable[[str, Any], T],
        doc: str,
        *,
        env: bool = True,
    ) -> None:
        self.default = default
        self.validate = validate
        self.doc = doc
        self.env = env
        self.name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @property
    def env_var(self) -> str:
        return ENV_PREFIX + self.name.upper()

    def default_for(self, settings: Settings) -> T:
        if isinstance(self.default, DerivedDefault):
            # compute returns Any: a NamedTuple cannot be generic on 3.10.
            return self.default.compute(settings)  # type: ignore[no-any-return]
        return self.default

    @overload
    def __get__(self, obj: None, owner: type) -> Option[T]: ...

    @overload
    def __get__(self, obj: Settings, owner: type) -> T: ...

    def __get__(self, obj: Settings | None, owner: type) -> Option[T] | T:
        if obj is None:
            return self
        # The instance dict holds what validate returned, a T.
        return obj.__dict__[self.name]  # type: ignore[no-any-return]

    def __set__(self, obj: Settings, value: Any) -> None:
        obj.__dict__[self.name] = self.validate(self.name, value)


def int_at_least(minimum: int, what: str) -> Callable[[str, Any], int]:
    """A validator of ints ``>= minimum``; ``what`` describes them in errors."""

    def validate(name: str, value: Any) -> int:
        number = value
        if isinstance(value, str):
            try:
                number = int(value.strip())
            except ValueError:
                number = None
        if isinstance(number, numbers.Integral) and not isinstance(number, bool):
            if number >= minimum:
                return int(number)
        raise ConfigurationError(f"{name} must be {what}, got {value!r}")

    return validate


def positive_seconds(name: str, value: Any) -> float:
    """Validate a positive, finite number of seconds."""
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            number = None
    if isinstance(number, numbers.Real) and not isinstance(number, bool):
        if 0 < number < math.inf:
            return float(number)
    raise ConfigurationError(
        f"{name} must be a positive number of seconds, got {value!r}"
    )


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def boolean(name: str, value: Any) -> bool:
    """Validate a bool, also written 1/0, true/false, yes/no or on/off."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigurationError(
        f"{name} must be true or false (also {'/'.join(_TRUE)} or "
        f"{'/'.join(_FALSE)}), got {value!r}"
    )


def directory(name: str, value: Any) -> Path:
    """Validate a directory path given as text or a path-like object."""
    if isinstance(value, (str, os.PathLike)) and str(value).strip():
        return Path(value)
    raise ConfigurationError(f"{name} must be a directory path, got {value!r}")
