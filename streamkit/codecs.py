"""How a topic turns its keys and values into bytes and back.

A :class:`Codec` pairs a type and a serializer for the key and for the value:

- ``"json"``: compact UTF-8 JSON; a :class:`~streamkit.models.Record` is
  encoded with its own ``dumps`` and decoded into the record type;
- ``"raw"``: bytes as they are; a ``str`` is sent as UTF-8;
- ``"str"``: UTF-8 text, parsed into ``int`` or ``float`` when that is the type.

Two rules hold for every serializer: a ``None`` key or value is sent as no
bytes (Kafka's null, a tombstone for values) and decodes to ``None``; and a
``bytes`` object is already encoded, so it is sent unchanged, and the type
``bytes`` receives the payload unparsed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from streamkit.exceptions import ConfigurationError, DecodeError
from streamkit.models import Record, dumps_json, loads_json

logger = logging.getLogger(__name__)

#: The serializer names a topic, a codec or the settings accept.
SERIALIZERS = ("json", "raw", "str")

#: The key and value types a codec understands besides Record subclasses.
CODEC_TYPES = (str, bytes, int, float, dict)

_PREVIEW_LIMIT = 80

_ENCODINGS = (bytes, bytearray, memoryview)


def _preview(data: bytes) -> str:
    """The payload as a ``repr`` of at most 80 characters."""
    text = repr(bytes(data))
    if len(text) > _PREVIEW_LIMIT:
        text = text[: _PREVIEW_LIMIT - 3] + "..."
    return text


def _type_name(typ: type | None) -> str:
    return "any JSON value" if typ is None else typ.__name__


def check_serializer(name: object, setting: str = "serializer") -> str:
    """Return the canonical serializer name.

    Args:
        name: a serializer name, in any case.
        setting: the argument or setting being checked, for the message.

    Raises:
        ConfigurationError: the name is not one of :data:`SERIALIZERS`.
    """
    canonical = name.strip().lower() if isinstance(name, str) else name
    if canonical not in SERIALIZERS:
        raise ConfigurationError(
            f"{setting} must be one of {', '.join(map(repr, SERIALIZERS))}, got "
            f"{name!r}"
        )
    return str(canonical)


def _check_type(typ: object, role: str) -> type | None:
    if typ is None:
        return None
    if isinstance(typ, type) and (typ in CODEC_TYPES or issubclass(typ, Record)):
        return typ
    raise ConfigurationError(
        f"{role}_type must be None, a Record subclass or one of "
        f"{', '.join(t.__name__ for t in CODEC_TYPES)}; got {typ!r}"
    )


def _json_to(typ: type | None) -> Callable[[Any], Any]:
    """Build the check that turns a decoded JSON value into ``typ``."""
    if typ is None:
        return lambda value: value
    if isinstance(typ, type) and issubclass(typ, Record):
        return typ.from_data

    def convert(value: Any) -> Any:
        if typ is float and type(value) is int:
            return float(value)
        if typ is int and type(value) is float and value.is_integer():
            return int(value)
        if type(value) is not typ:
            raise DecodeError(f"the JSON holds {type(value).__name__} {value!r:.40}")
        return value

    return convert


class _Side:
    """The encoder and decoder of either the key or the value."""

    def __init__(self, role: str, typ: object, serializer: object) -> None:
        self.role = role
        self.type = _check_type(typ, role)
        self.serializer = check_serializer(serializer, f"{role}_serializer")
        self.expected = f"{_type_name(self.type)} ({self.serializer})"

        # Refuse pairs that could never decode, when the topic is declared
        # rather than at the first message.
        record = isinstance(self.type, type) and issubclass(self.type, Record)
        if self.serializer == "raw" and self.type not in (None, bytes, str):
            raise ConfigurationError(
                f"{role}_serializer 'raw' carries bytes or str, not "
                f"{_type_name(self.type)}; use {role}_serializer='json'"
            )
        if self.serializer == "str" and (record or self.type is dict):
            raise ConfigurationError(
                f"{role}_serializer 'str' carries text, not "
                f"{_type_name(self.type)}; use {role}_serializer='json'"
            )
        self._from_json = _json_to(self.type)

    def dumps(self, obj: Any) -> bytes | None:
        if obj is None:
            return None
        if isinstance(obj, _ENCODINGS):
            return bytes(obj)
        if self.serializer == "json":
            return obj.dumps() if isinstance(obj, Record) else dumps_json(obj)
        if isinstance(obj, str):
            return obj.encode()
        if self.serializer == "str" and isinstance(obj, (int, float)):
            return str(obj).encode()
        raise TypeError(
            f"{self.role}_serializer {self.serializer!r} sends bytes or str, got "
            f"{type(obj).__name__} {obj!r:.60}; use {self.role}_serializer='json'"
        )

    def loads(self, data: bytes | None) -> Any:
        if data is None:
            return None
        if self.type is bytes:
            return bytes(data)
        try:
            return self._loads(data)
        except (DecodeError, ValueError) as exc:
            # UnicodeDecodeError and JSONDecodeError are ValueErrors too.
            raise DecodeError(
                f"cannot decode {self.role} as {self.expected}: {exc}; "
                f"payload {_preview(data)}"
            ) from None

    def _loads(self, data: bytes) -> Any:
        if self.serializer == "raw" and self.type is None:
            return bytes(data)
        if self.serializer == "json":
            try:
                decoded = loads_json(data)
            except json.JSONDecodeError as exc:
                raise DecodeError(f"not JSON ({exc.msg} at byte {exc.pos})") from None
            return self._from_json(decoded)

        try:
            text = bytes(data).decode()
        except UnicodeDecodeError as exc:
            raise DecodeError(f"not UTF-8 text (at byte {exc.start})") from None
        if self.type is int:
            return int(text)
        if self.type is float:
            return float(text)
        return text


class Codec:
    """Encode and decode the keys and values of one topic.

    Args:
        key_type: ``None`` (any JSON value), a Record subclass, ``str``,
            ``bytes``, ``int``, ``float`` or ``dict``.
        value_type: as ``key_type``.
        key_serializer: ``"json"``, ``"raw"`` or ``"str"``.
        value_serializer: as ``key_serializer``.

    Raises:
        ConfigurationError: an unknown serializer or type, or a pair that
            cannot work (a Record with ``"raw"``, say).
    """

    def __init__(
        self,
        key_type: type | None = None,
        value_type: type | None = None,
        key_serializer: str = "json",
        value_serializer: str = "json",
    ) -> None:
        self._key = _Side("key", key_type, key_serializer)
        self._value = _Side("value", value_type, value_serializer)

    @property
    def key_type(self) -> type | None:
        return self._key.type

    @property
    def value_type(self) -> type | None:
        return self._value.type

    @property
    def key_serializer(self) -> str:
        return self._key.serializer

    @property
    def value_serializer(self) -> str:
        return self._value.serializer

    def dumps_key(self, obj: Any) -> bytes | None:
        """Encode a key; ``None`` stays ``None`` (no key).

        Raises:
            TypeError: the serializer cannot carry this object.
        """
        return self._key.dumps(obj)

    def dumps_value(self, obj: Any) -> bytes | None:
        """Encode a value; ``None`` stays ``None`` (a tombstone).

        Raises:
            TypeError: the serializer cannot carry this object.
        """
        return self._value.dumps(obj)

    def loads_key(self, data: bytes | None) -> Any:
        """Decode a key; ``None`` stays ``None``.

        Raises:
            DecodeError: the bytes are not what the key type and serializer
                expect; the message shows the first bytes.
        """
        return self._key.loads(data)

    def loads_value(self, data: bytes | None) -> Any:
        """Decode a value; ``None`` (a tombstone) stays ``None``.

        Raises:
            DecodeError: the bytes are not what the value type and serializer
                expect; the message shows the first bytes.
        """
        return self._value.loads(data)

    def __repr__(self) -> str:
        key = getattr(self.key_type, "__name__", None)
        value = getattr(self.value_type, "__name__", None)
        return (
            f"Codec(key_type={key}, value_type={value}, "
            f"key_serializer={self.key_serializer!r}, "
            f"value_serializer={self.value_serializer!r})"
        )
