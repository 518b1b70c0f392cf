"""Codecs: keys and values to bytes and back."""

from __future__ import annotations

import re

import numpy as np
import pytest

from streamkit.codecs import Codec
from streamkit.exceptions import ConfigurationError, DecodeError
from streamkit.models import Record


class Order(Record):
    id: int
    item: str
    price: float | None = None


def _preview_of(message: str) -> str:
    """The ``payload b'...'`` part of a DecodeError message."""
    match = re.search(r"payload (b.*)$", message)
    assert match, message
    return match.group(1)


def test_record_values_go_as_their_own_json() -> None:
    codec = Codec(value_type=Order)
    order = Order(1, "tea", 2.5)

    data = codec.dumps_value(order)

    assert data == order.dumps() == b'{"id":1,"item":"tea","price":2.5}'
    assert codec.loads_value(data) == order


def test_json_without_a_type_round_trips_any_value() -> None:
    codec = Codec()

    for value in [{"a": [1, 2.5, None]}, [1, "x"], 7, "text", True]:
        assert codec.loads_value(codec.dumps_value(value)) == value
    assert codec.dumps_key({"b": 1, "a": 2}) == b'{"b":1,"a":2}'


def test_json_encodes_nan_as_null_and_numpy_as_numbers() -> None:
    codec = Codec()

    assert codec.dumps_value([float("nan"), np.int64(3), np.float64(1.5)]) == (
        b"[null,3,1.5]"
    )
    assert codec.dumps_value({"o": Order(1, "x")}) == (
        b'{"o":{"id":1,"item":"x","price":null}}'
    )


def test_none_key_and_tombstone_stay_none() -> None:
    codec = Codec(key_type=str, value_type=Order)

    assert codec.dumps_key(None) is None
    assert codec.loads_key(None) is None
    assert codec.dumps_value(None) is None
    assert codec.loads_value(None) is None


@pytest.mark.parametrize(
    ("typ", "data", "value"),
    [
        (str, b'"abc"', "abc"),
        (int, b"42", 42),
        (int, b"5.0", 5),
        (float, b"3", 3.0),
        (dict, b'{"k":1}', {"k": 1}),
    ],
)
def test_json_decodes_into_simple_types(typ: type, data: bytes, value: object) -> None:
    decoded = Codec(key_type=typ).loads_key(data)

    assert decoded == value
    assert type(decoded) is typ


def test_bytes_are_already_encoded_and_pass_through() -> None:
    codec = Codec(value_type=bytes)

    assert codec.dumps_value(b"\x00\xff") == b"\x00\xff"
    assert codec.dumps_value(bytearray(b"ab")) == b"ab"
    assert codec.loads_value(b"not json at all") == b"not json at all"


def test_raw_serializer_carries_bytes_and_text() -> None:
    untyped = Codec(key_serializer="raw", value_serializer="raw")
    text = Codec(value_type=str, value_serializer="RAW")

    assert untyped.dumps_key("ключ") == "ключ".encode()
    assert untyped.loads_value(b"\x00\x01") == b"\x00\x01"
    assert text.loads_value("ключ".encode()) == "ключ"
    assert text.value_serializer == "raw"


def test_str_serializer_parses_numbers_for_numeric_types() -> None:
    codec = Codec(key_type=int, key_serializer="str", value_serializer="str")

    assert codec.dumps_key(42) == b"42"
    assert codec.loads_key(b"42") == 42
    assert codec.loads_value(b"hello") == "hello"


def test_invalid_json_names_what_was_expected_and_shows_the_bytes() -> None:
    with pytest.raises(DecodeError) as info:
        Codec(value_type=Order).loads_value(b"{not json")

    message = str(info.value)
    assert "cannot decode value as Order (json)" in message
    assert "not JSON" in message
    assert _preview_of(message) == "b'{not json'"


def test_preview_of_a_large_payload_is_short() -> None:
    payload = b"\x00" * 10_000

    with pytest.raises(DecodeError) as info:
        Codec().loads_value(payload)

    preview = _preview_of(str(info.value))
    assert len(preview) <= 80
    assert preview.startswith("b'\\x00\\x00")
    assert preview.endswith("...")


def test_record_field_error_names_field_and_value() -> None:
    with pytest.raises(DecodeError) as info:
        Codec(value_type=Order).loads_value(b'{"id":"seven","item":"tea"}')

    message = str(info.value)
    assert "Order.id: expected int, got 'seven'" in message
    assert _preview_of(message) == 'b\'{"id":"seven","item":"tea"}\''


@pytest.mark.parametrize(
    ("codec", "data", "expected"),
    [
        (Codec(key_type=str), b"plain-key", "key as str (json): not JSON"),
        (Codec(key_type=str), b"17", "key as str (json): the JSON holds int 17"),
        (Codec(key_type=int), b"2.5", "key as int (json)"),
        (Codec(value_type=Order), b"[1]", "value as Order (json)"),
        (
            Codec(value_type=str, value_serializer="raw"),
            b"\xff\xfe",
            "value as str (raw): not UTF-8 text (at byte 0)",
        ),
        (
            Codec(key_type=int, key_serializer="str"),
            b"4x",
            "key as int (str): invalid literal",
        ),
    ],
)
def test_decode_failures_are_decode_errors(
    codec: Codec, data: bytes, expected: str
) -> None:
    loads = codec.loads_key if expected.startswith("key") else codec.loads_value

    with pytest.raises(DecodeError) as info:
        loads(data)

    assert expected in str(info.value)
    assert _preview_of(str(info.value)) == repr(data)


def test_unknown_serializer_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        Codec(value_serializer="pickle")

    assert "value_serializer must be one of 'json', 'raw', 'str'" in str(info.value)
    assert "'pickle'" in str(info.value)


def test_serializer_names_are_case_insensitive() -> None:
    assert Codec(key_serializer="JSON").key_serializer == "json"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"value_type": Order, "value_serializer": "raw"},
            "use value_serializer='json'",
        ),
        ({"key_type": int, "key_serializer": "raw"}, "carries bytes or str, not int"),
        ({"value_type": dict, "value_serializer": "str"}, "carries text, not dict"),
        ({"value_type": list}, "value_type must be None, a Record subclass"),
        ({"key_type": "json"}, "got 'json'"),
    ],
)
def test_impossible_pairs_are_refused_up_front(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigurationError, match=re.escape(message)):
        Codec(**kwargs)  # type: ignore[arg-type]


def test_raw_serializer_refuses_to_encode_other_objects() -> None:
    with pytest.raises(TypeError, match="use value_serializer='json'"):
        Codec(value_serializer="raw").dumps_value(42)


def test_repr_names_types_and_serializers() -> None:
    assert repr(Codec(key_type=str, value_type=Order)) == (
        "Codec(key_type=str, value_type=Order, key_serializer='json', "
        "value_serializer='json')"
    )
