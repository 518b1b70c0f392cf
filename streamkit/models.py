"""Records: typed message bodies that travel as JSON.

A :class:`Record` subclass declares its fields as annotations::

    class Flight(Record):
        carrier: str
        dep_delay: float | None = None
        flight: int

A field without a default may follow one with a default, as in Faust; a
field missing from the data is None.  Construction and decoding coerce values
to the declared types (``5.0`` to ``5`` for ``int``, NaN to None, NumPy scalars
to Python; see :mod:`streamkit.coercion`), and a value that cannot be coerced
raises :class:`~streamkit.exceptions.DecodeError`.  On the wire a record is
compact UTF-8 JSON with NaN and infinities as ``null``; keys that are not
fields are ignored when decoding, so records from newer producers still load.
"""

from __future__ import annotations

import copy
import datetime
import difflib
import enum
import json
import logging
import sys
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson

from streamkit.coercion import (
    Coercer,
    InvalidValue,
    coercer_for,
    type_name,
    unchanged_type,
)
from streamkit.exceptions import ConfigurationError, DecodeError

logger = logging.getLogger(__name__)

#: Record class options Faust accepts; stored on ``_options``, not acted on.
FAUST_RECORD_OPTIONS = frozenset(
    "abstract allow_blessed_key coerce date_parser decimals include_metadata "
    "isodates polymorphic_fields validation".split()
)

_MISSING: Any = object()  # Any: a sentinel compared by identity only
_REPR_LIMIT = 80

R = TypeVar("R", bound="Record")


def _short_repr(value: Any) -> str:
    text = repr(value)
    if len(text) > _REPR_LIMIT:
        return text[: _REPR_LIMIT - 3] + "..."
    return text


def _encode_default(obj: Any) -> Any:
    """Turn what the C JSON encoder does not know into JSON values."""
    if isinstance(obj, Record):
        return obj.to_representation()
    if type(obj).__module__ == "numpy" and hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (datetime.date, datetime.time)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return obj.value
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isinstance(obj, Mapping):
        return dict(obj)
    raise TypeError(
        f"cannot encode {_short_repr(obj)} of type {type(obj).__name__} as JSON; "
        "convert it to a str, number, list or dict first"
    )


def to_jsonable(obj: Any) -> Any:
    """Return ``obj`` with only JSON values: NaN and infinities become None.

    Records become dicts, NumPy scalars Python numbers, dates ISO strings,
    tuples and sets lists.

    Raises:
        TypeError: a value has no JSON form.
    """
    if obj is None or type(obj) in (str, int, bool):
        return obj
    if isinstance(obj, float):
        return obj if obj - obj == 0 else None  # false for NaN and infinities
    if isinstance(obj, Mapping):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_jsonable(v) for v in obj]
    return to_jsonable(_encode_default(obj))


_ENCODER = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_encode_default
)


_ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def dumps_json(obj: Any) -> bytes:
    """Encode ``obj`` as compact UTF-8 JSON, the way records go on the wire.

    NaN and infinities become ``null``; records, NumPy scalars, dates, enums,
    tuples and sets are converted as by :func:`to_jsonable`.

    Raises:
        TypeError: a value has no JSON form.
    """
    # orjson is the hot path (every record sent); it writes NaN as null
    # already.  What it refuses (integers past 64 bits) takes the slow path.
    try:
        encoded = orjson.dumps(obj, default=_encode_default, option=_ORJSON_OPTIONS)
    except orjson.JSONEncodeError:
        pass
    else:
        # orjson 3.12+ returns its whole output buffer, never shrunk: at least
        # 4 KiB however short the JSON.  The embedded broker keeps every record
        # it is sent, so it would hold 4-8 KiB per message; a right-sized copy
        # costs ~0.1 us and saves the page faults of fresh buffers too.
        return bytes(memoryview(encoded))
    try:
        text = _ENCODER.encode(obj)
    except ValueError:
        # Only NaN or an infinity gets here; the slow path replaces them.
        text = _ENCODER.encode(to_jsonable(obj))
    return text.encode()


def loads_json(data: bytes | str) -> Any:
    """Decode JSON text; raises ValueError (a JSONDecodeError) when it is not."""
    return orjson.loads(data)


class Record:
    """Base class of typed records; see the module docstring for coercion.

    Class keyword arguments: ``serializer`` (only ``"json"``), ``namespace``
    (defaults to ``module.QualName``) and Faust's record options, which are
    accepted and stored but change nothing.

    Raises:
        ConfigurationError: at class definition, for another serializer or an
            unknown class keyword.
    """

    _serializer = "json"
    _namespace = ""
    _options: Mapping[str, Any] = {}
    _plan: tuple[tuple[str, Any, Coercer, Any, bool], ...] | None = None
    _field_types: dict[str, Any] = {}
    _localns: dict[str, Any] | None = None

    def __init_subclass__(
        cls,
        *,
        serializer: str = "json",
        namespace: str | None = None,
        **options: Any,
    ) -> None:
        super().__init_subclass__()
        unknown = sorted(set(options) - FAUST_RECORD_OPTIONS)
        if unknown:
            valid = ["serializer", "namespace", *sorted(FAUST_RECORD_OPTIONS)]
            close = difflib.get_close_matches(unknown[0], valid, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigurationError(
                f"{cls.__name__}: unknown Record option {unknown[0]!r}{hint}; "
                f"valid options: {', '.join(valid)}"
            )
        if serializer != "json":
            raise ConfigurationError(
                f"{cls.__name__}: Record serializer must be 'json', got "
                f"{serializer!r}; records travel as JSON only"
            )

        cls._serializer = serializer
        cls._namespace = namespace or f"{cls.__module__}.{cls.__qualname__}"
        cls._options = dict(options)
        cls._plan = None

        # With postponed annotations, a record defined inside a function can
        # name other local classes; only the defining frame knows them.
        # Only types and type aliases are kept, so that the record does not
        # hold the rest of that frame's objects alive.
        frame = sys._getframe(1)
        while frame.f_back is not None and frame.f_code.co_name == "__init_subclass__":
            frame = frame.f_back
        cls._localns = None
        if frame.f_locals is not frame.f_globals:
            cls._localns = {
                name: value
                for name, value in frame.f_locals.items()
                if isinstance(value, type) or typing.get_origin(value) is not None
            }
        try:
            cls._compile()
        except ConfigurationError:
            logger.debug("%s refers to a later class; resolving on first use", cls)

    @classmethod
    def _compile(cls) -> tuple[tuple[str, Any, Coercer, Any, bool], ...]:
        """Resolve the annotations once and precompute each field's coercer."""
        localns = {**(cls._localns or {}), cls.__name__: cls}
        try:
            hints = typing.get_type_hints(cls, localns=localns)
        except NameError as exc:
            raise ConfigurationError(
                f"{cls.__name__}: cannot resolve the annotation name {exc.name!r}; "
                "define or import it in the record's module"
            ) from exc

        names: list[str] = []
        for klass in reversed(cls.__mro__):
            if issubclass(klass, Record) and klass is not Record:
                for name in klass.__dict__.get("__annotations__", {}):
                    if name not in names and name in hints:
                        names.append(name)
        names = [
            n
            for n in names
            if hints[n] is not typing.ClassVar
            and typing.get_origin(hints[n]) is not typing.ClassVar
        ]

        plan = []
        for name in names:
            default = getattr(cls, name, None)
            mutable = isinstance(default, (list, dict, set))
            plan.append(
                (
                    name,
                    unchanged_type(hints[name]),
                    coercer_for(hints[name]),
                    default,
                    mutable,
                )
            )
        cls._field_types = {name: hints[name] for name in names}
        cls._plan = tuple(plan)
        return cls._plan

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Set the fields from positional (in field order) and keyword values.

        Raises:
            TypeError: too many positional values, a field given twice, or an
                unknown keyword.
            DecodeError: a value cannot be coerced to its field's type.
        """
        plan = self._plan or self._compile()
        if len(args) > len(plan):
            raise TypeError(
                f"{type(self).__name__} takes at most {len(plan)} positional "
                f"values, got {len(args)}"
            )
        for (name, *_), value in zip(plan, args, strict=False):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__} got {name!r} twice")
            kwargs[name] = value

        unknown = kwargs.keys() - self._field_types.keys()
        if unknown:
            bad = sorted(unknown)[0]
            close = difflib.get_close_matches(bad, self._field_types, 1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise TypeError(
                f"{type(self).__name__} has no field {bad!r}{hint}; "
                f"fields: {', '.join(self._field_types)}"
            )
        self._fill(self.__dict__, kwargs)

    @classmethod
    def _fill(cls, values: dict[str, Any], data: Mapping[str, Any]) -> None:
        name = ""
        raw = None
        try:
            for name, unchanged, coerce, default, mutable in (
                cls._plan or cls._compile()
            ):
                raw = data.get(name, _MISSING)
                if type(raw) is unchanged:
                    values[name] = raw
                elif raw is _MISSING:
                    values[name] = copy.copy(default) if mutable else default
                else:
                    values[name] = coerce(raw)
        except InvalidValue:
            expected = type_name(cls._field_types[name])
            raise DecodeError(
                f"{cls.__name__}.{name}: expected {expected}, got {_short_repr(raw)}"
            ) from None
        except DecodeError as exc:
            raise DecodeError(f"{cls.__name__}.{name}: {exc}") from None

    @classmethod
    def from_data(cls: type[R], data: Mapping[str, Any]) -> R:
        """Build a record from a mapping, ignoring keys that are not fields.

        Raises:
            DecodeError: ``data`` is not a mapping, or a value cannot be
                coerced; the message names the class, field and value.
        """
        if type(data) is not dict and not isinstance(data, Mapping):
            raise DecodeError(
                f"{cls.__name__} needs a JSON object, got {_short_repr(data)}"
            )
        record = cls.__new__(cls)
        cls._fill(record.__dict__, data)
        return record

    @classmethod
    def loads(cls: type[R], data: bytes | str) -> R:
        """Decode a record from JSON.

        Raises:
            DecodeError: ``data`` is not a JSON object or a field's value
                cannot be coerced.
        """
        try:
            decoded = loads_json(data)
        except (ValueError, TypeError) as exc:
            raise DecodeError(
                f"{cls.__name__}: not JSON ({exc}): {_short_repr(data)}"
            ) from None
        return cls.from_data(decoded)

    def asdict(self) -> dict[str, Any]:
        """The fields and their values, in declaration order (not recursive)."""
        return {name: getattr(self, name) for name in self._field_types}

    def to_representation(self) -> dict[str, Any]:
        """A JSON-ready dict: nested records as dicts, NaN as None."""
        return to_jsonable(self.asdict())

    def dumps(self) -> bytes:
        """Encode as compact UTF-8 JSON (NaN and infinities as ``null``).

        Raises:
            TypeError: a field holds a value with no JSON form.
        """
        values = self.__dict__
        # The instance dict holds exactly the fields, in order, unless the
        # user added attributes; encoding it directly saves a copy per event.
        if len(values) != len(self._field_types):
            values = self.asdict()
        return dumps_json(values)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record) or other.__class__ is not self.__class__:
            return NotImplemented
        return self.asdict() == other.asdict()

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.asdict().items())
        return f"{type(self).__name__}({fields})"
