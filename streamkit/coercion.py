"""Coercion of decoded values to the type a record field declares.

:func:`coercer_for` turns an annotation into a function that takes what JSON
or pandas produced and returns it in the declared type: ``5.0`` becomes ``5``
for ``int``, ``3`` becomes ``3.0`` for ``float``, numbers become text for
``str``, NumPy scalars become Python ones, and NaN becomes None.  Every coercer
lets None through, since a record field may be missing.  A value that cannot be
coerced raises :class:`InvalidValue`; the record adds the class and field.
"""

from __future__ import annotations

import datetime
import enum
import logging
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

logger = logging.getLogger(__name__)

Coercer = Callable[[Any], Any]


class InvalidValue(Exception):
    """A value cannot be coerced; the caller knows the field and the value."""


# Each coercer starts with the common case, because decoding a record calls
# one per field.


def _passthrough(value: Any) -> Any:
    return value


def _to_int(value: Any) -> int | None:
    if type(value) is int:
        return value
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if number != number:
            return None
        if number.is_integer():
            return int(number)
        raise InvalidValue
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            raise InvalidValue from None
    raise InvalidValue


def _to_float(value: Any) -> float | None:
    if type(value) is float:
        return None if value != value else value
    if value is None:
        return None
    if isinstance(value, (numbers.Real, str)):
        try:
            number = float(value)
        except ValueError:
            raise InvalidValue from None
        return None if number != number else number
    raise InvalidValue


def _to_str(value: Any) -> str | None:
    if type(value) is str:
        return value
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return None if value != value else str(value)
    raise InvalidValue


_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _to_bool(value: Any) -> bool | None:
    if type(value) is bool or value is None:
        return value
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return _to_bool(value.item())
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise InvalidValue
    if isinstance(value, numbers.Real):
        if value != value:
            return None
        if value in (0, 1):
            return bool(value)
    raise InvalidValue


def _to_datetime(value: Any) -> datetime.datetime | None:
    if isinstance(value, datetime.datetime) or value is None:
        return value
    if isinstance(value, str):
        # Python 3.10 does not read the "Z" suffix that JSON producers write.
        text = value[:-1] + "+00:00" if value.endswith("Z") else value
        try:
            return datetime.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidValue from None
    raise InvalidValue


def _to_date(value: Any) -> datetime.date | None:
    if isinstance(value, datetime.date) or value is None:
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise InvalidValue from None
    raise InvalidValue


_SCALARS: dict[Any, Coercer] = {
    int: _to_int,
    float: _to_float,
    str: _to_str,
    bool: _to_bool,
    datetime.datetime: _to_datetime,
    datetime.date: _to_date,
}


_SEQUENCES = (list, tuple, set, frozenset)


def _list_of(item: Coercer) -> Coercer:
    def coerce(value: Any) -> list[Any] | None:
        if value is None:
            return None
        if not isinstance(value, (list, tuple)):
            raise InvalidValue
        return [item(element) for element in value]

    return coerce


def _dict_of(key: Coercer, item: Coercer) -> Coercer:
    def coerce(value: Any) -> dict[Any, Any] | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise InvalidValue
        return {key(k): item(v) for k, v in value.items()}

    return coerce


def _union_of(members: tuple[type, ...], coercers: list[Coercer]) -> Coercer:
    def coerce(value: Any) -> Any:
        if value is None or type(value) in members:
            return value
        for member in coercers:
            try:
                return member(value)
            except (InvalidValue, ValueError):
                continue
        raise InvalidValue

    return coerce


def _record_of(record: Any) -> Coercer:
    def coerce(value: Any) -> Any:
        if value is None or isinstance(value, record):
            return value
        if not isinstance(value, Mapping):
            raise InvalidValue
        return record.from_data(value)

    return coerce


def _enum_of(members: type[enum.Enum]) -> Coercer:
    def coerce(value: Any) -> enum.Enum | None:
        if value is None or isinstance(value, members):
            return value
        try:
            return members(value)
        except ValueError:
            raise InvalidValue from None

    return coerce


def coercer_for(annotation: Any) -> Coercer:
    """Build the function that coerces a decoded value to ``annotation``.

    Classes with a ``from_data`` class method (records) are built from
    mappings; sequences decode to lists.  Annotations this module does not
    know are passed through unchecked.
    """
    if annotation in _SCALARS:
        return _SCALARS[annotation]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)

    if origin is typing.Union or origin is types.UnionType:
        members = tuple(a for a in args if a is not type(None))
        if len(members) == 1:
            return coercer_for(members[0])
        plain = tuple(m for m in members if isinstance(m, type))
        return _union_of(plain, [coercer_for(m) for m in members])
    if annotation in _SEQUENCES or origin in _SEQUENCES:
        # Only tuple[X, ...] is homogeneous; tuple[X, Y] is passed through.
        uniform = len(args) == 1 or (len(args) == 2 and args[1] is Ellipsis)
        item = coercer_for(args[0]) if args and uniform else _passthrough
        return _list_of(item)
    if annotation is dict or origin is dict:
        key, item = (coercer_for(a) for a in args) if args else (None, None)
        return _dict_of(key or _passthrough, item or _passthrough)
    if isinstance(annotation, type) and hasattr(annotation, "from_data"):
        return _record_of(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return _enum_of(annotation)
    return _passthrough


def unchanged_type(annotation: Any) -> type | None:
    """The one type whose values the coercer of ``annotation`` returns as is.

    Decoding checks ``type(value) is unchanged_type`` before calling the
    coercer, which saves a call per field on the common path.  Floats are
    excluded: a float may be NaN, which becomes None.
    """
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            annotation = members[0]
    if annotation in (int, str, bool):
        return annotation
    return None


def type_name(annotation: Any) -> str:
    """The annotation as a reader writes it: ``int``, ``list[int] | None``."""
    if isinstance(annotation, type):
        return annotation.__name__
    return repr(annotation).replace("typing.", "")
