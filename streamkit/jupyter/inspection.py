"""What the inspection and input magics compute: peek, send, and the
agents/tables/topics frames.

Decision: a line magic runs inside the kernel's loop and cannot await, yet
``peek`` should *return* its DataFrame (``df = %streamkit peek t``).  On the
embedded broker (``memory://``) the records are in this process and its
transport never waits on I/O, so the read runs to completion right in the
magic (:func:`run_now_or_schedule`) and the frame is the cell's value.  On
Kafka the read needs the network: it is scheduled on the loop, like
``%streamkit start``, and the frame is displayed under the cell when it is
ready (the magic returns None).  ``send`` follows the same rule.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import pandas as pd
from IPython.display import display

from ..app import App
from ..exceptions import DecodeError, StreamkitError
from ..models import Record
from ..topics import Topic
from ..transport import TP, Message
from ..transport.memory import MemoryTransport
from ..wording import counted
from .session import run_and_report

T = TypeVar("T")

PEEK_COLUMNS = ("partition", "offset", "timestamp", "key", "value", "error")
AGENT_COLUMNS = (
    *("name", "topic", "concurrency", "state"),
    *("processed", "errors", "buffered"),
)
TABLE_COLUMNS = ("name", "keys", "changelog")
TOPIC_COLUMNS = ("name", "partitions", "used by")


def parse_text(text: str | None) -> Any:
    """``text`` as JSON when it parses (``42``, ``{"a": 1}``), else the string."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_for(text: str | None, declared: Any, serializer: str = "json") -> Any:
    """``text`` as a key or value of a topic that declares ``declared``,
    carried by ``serializer``.

    JSON when it parses, else the string (:func:`parse_text`); but a topic
    of text or bytes (``str`` or ``bytes``, or a ``raw``/``str`` serializer
    without a number type) takes the text itself, so ``--key 7`` is the key
    ``"7"`` there, not the number 7 it could never decode.
    """
    parsed = parse_text(text)
    textual = declared in (str, bytes) or (
        serializer != "json" and declared not in (int, float)
    )
    if textual and text is not None and not isinstance(parsed, str):
        return text
    return parsed


def value_for(topic: Topic, text: str) -> Any:
    """``text`` as a value of ``topic`` (see :func:`parse_for`)."""
    return parse_for(text, topic.value_type, topic.codec.value_serializer)


def frame_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A DataFrame's rows as dicts; a named index is kept as a field.

    Raises :class:`StreamkitError` when that index is also a column.
    """
    if all(name is None for name in frame.index.names):
        return frame.to_dict(orient="records")
    try:
        frame = frame.reset_index()
    except ValueError:
        names = ", ".join(repr(n) for n in frame.index.names if n is not None)
        raise StreamkitError(
            f"the frame's index ({names}) is also one of its columns; drop one "
            "of them (frame.reset_index(drop=True)) and send again."
        ) from None
    return frame.to_dict(orient="records")


def keyed_records(
    values: list[Any], topic: Topic, key: Any = None, key_field: str | None = None
) -> list[tuple[Any, Any]]:
    """(key, value) pairs: ``key`` with every value, or each value's field
    ``key_field`` (a DataFrame column, a field of a JSON object line).

    Raises :class:`StreamkitError` naming the first value without the field,
    or whose field is empty (None, NaN).
    """
    if key_field is None:
        return [(key, value) for value in values]

    records = []
    for number, value in enumerate(values, 1):
        if not isinstance(value, dict) or key_field not in value:
            has = (
                f"fields {', '.join(map(repr, value))}"
                if isinstance(value, dict)
                else f"the {type(value).__name__} {value!r:.40}"
            )
            raise StreamkitError(
                f"--key-field {key_field}: record {number} has no field "
                f"{key_field!r} ({has}); nothing was sent. Name a field every "
                "record has, or send with --key K."
            )
        field = value[key_field]
        if _missing(field):
            raise StreamkitError(
                f"--key-field {key_field}: record {number} has no value in "
                f"{key_field!r} ({field!r}); nothing was sent. Fill or drop "
                "those rows (frame.dropna(subset=[...])) first."
            )
        records.append((_as_declared(field, topic.key_type), value))
    return records


def _missing(value: Any) -> bool:
    # None, NaN and pandas' NA: what a DataFrame holds for "no value".
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float) and math.isnan(value)


def _as_declared(key: Any, declared: Any) -> Any:
    # A DataFrame column of numbers keys a topic of str keys as text; a
    # float column (ints with a NaN among them) as the integers it holds.
    number = isinstance(key, numbers.Number) and not isinstance(key, bool)
    if declared is not str or not number:
        return key
    if isinstance(key, numbers.Real) and float(key).is_integer():
        return str(int(key))
    return str(key)


def check_records(topic: Topic, records: list[tuple[Any, Any]]) -> None:
    """Refuse, before anything is sent, records the App could not read back
    from ``topic`` (a text value for a topic of ``int``, say).

    Raises :class:`StreamkitError` naming the first such record.
    """
    codec = topic.codec
    for number, (key, value) in enumerate(records, 1):
        try:
            codec.loads_key(codec.dumps_key(key))
            codec.loads_value(codec.dumps_value(value))
        except (DecodeError, TypeError) as exc:
            which = f"record {number} of {len(records)}" if len(records) > 1 else ""
            raise StreamkitError(
                f"{which or 'the record'} is not what the topic declares: {exc}. "
                "Nothing was sent: send keys and values of the declared types, "
                "or declare the topic with the types you send."
            ) from None


def known_topic(app: App, name: str) -> Topic:
    """The App's Topic called ``name`` (its codec), or one with the defaults.

    A topic only a table's changelog uses is found too, with the table's codec.
    """
    if name in app.topics:
        return app.topics[name]
    for table in app.tables:
        if table.changelog.name == name:
            return table.changelog
    return Topic(app, name)


def run_now_or_schedule(
    shell: Any,
    app: App,
    coro: Coroutine[Any, Any, T],
    *,
    show: Callable[[T], None],
    failed: str,
) -> T | None:
    """The result of ``coro`` now on the embedded broker; else schedule it.

    Scheduled work ends by calling ``show`` with the result under the cell
    that asked (see the module docstring).  Raises what ``coro`` raises when
    it runs now.
    """
    if app.is_running and isinstance(app.transport, MemoryTransport):
        return _run_in_process(coro)

    async def then_show() -> None:
        show(await coro)

    run_and_report(shell, then_show(), done="", failed=failed)
    return None


def _run_in_process(coro: Coroutine[Any, Any, T]) -> T:
    # The memory transport only ever yields through asyncio.sleep(0), which
    # suspends with None; anything else would be a wait for a future that the
    # loop, blocked in this magic, could never resolve.
    try:
        while True:
            if coro.send(None) is not None:
                coro.close()
                raise RuntimeError("the embedded broker unexpectedly had to wait")
    except StopIteration as stop:
        return stop.value


async def read_last(app: App, name: str, n: int, partition: int | None) -> pd.DataFrame:
    """The last ``n`` records of topic ``name`` (of one partition, if given),
    decoded with the App's codec for it, newest last.

    Raises :class:`StreamkitError` when the topic or partition does not exist.
    """
    transport = app.transport
    assert transport is not None  # the caller checked that the App runs
    count = await transport.partition_count(name)
    if count is None:
        known = ", ".join(sorted(app.topics)) or "none"
        raise StreamkitError(
            f"topic {name!r} does not exist on the broker (topics this App "
            f"declares: {known}); check the name, or send to it first."
        )
    if partition is not None and partition >= count:
        raise StreamkitError(
            f"topic {name!r} has partitions 0..{count - 1}, not {partition}; "
            "pass --partition within that range."
        )

    partitions = range(count) if partition is None else [partition]
    ends = await transport.end_offsets([TP(name, p) for p in partitions])
    messages: list[Message] = []
    for tp, end in ends.items():
        async for batch in transport.read_partition(tp, max(0, end - n), end):
            messages.extend(batch)

    # Across partitions only timestamps order records; ties keep offset order.
    messages.sort(key=lambda m: (m.timestamp, m.partition, m.offset))
    codec = known_topic(app, name).codec
    rows = [_decoded_row(codec, m) for m in messages[-n:]]
    # object columns: a key 7 among None keys must not become 7.0.
    frame = pd.DataFrame(rows, columns=list(PEEK_COLUMNS), dtype=object)
    frame = frame.astype({"partition": "int64", "offset": "int64"})
    frame["timestamp"] = pd.to_datetime(
        frame["timestamp"].astype("float64"), unit="s", utc=True
    )
    return frame


def _decoded_row(codec: Any, message: Message) -> tuple[Any, ...]:
    try:
        key = _plain(codec.loads_key(message.key))
        value = _plain(codec.loads_value(message.value))
        error = None
    except DecodeError as exc:  # shown raw and marked, not hidden
        key, value, error = message.key, message.value, str(exc)
    return (message.partition, message.offset, message.timestamp, key, value, error)


def _plain(obj: Any) -> Any:
    return obj.asdict() if isinstance(obj, Record) else obj


async def send_records(
    topic: Topic, records: list[tuple[Any, Any]]
) -> tuple[int, tuple[int, int] | None]:
    """Send each (key, value) and wait until the broker has them all.

    Returns how many were sent, and where the record landed (partition,
    offset) when there was one.  Several are sent without waiting on each
    (a round trip per record made a 10,000-row frame take a minute on
    Kafka), then flushed together.
    """
    if len(records) == 1:
        ((key, value),) = records
        metadata = await topic.send_and_wait(key=key, value=value)
        return 1, (metadata.partition, metadata.offset)

    for key, value in records:
        await topic.send(key=key, value=value)
    producer = await topic.app.ready_producer(topic)
    await producer.flush()
    return len(records), None


def report_sent(topic: str, sent: tuple[int, tuple[int, int] | None]) -> None:
    """Write where the one record landed, or how many were sent."""
    count, landed = sent
    if landed is not None:
        partition, offset = landed
        sys.stdout.write(
            f"sent to topic {topic!r} partition {partition} offset {offset}\n"
        )
    else:
        sys.stdout.write(f"sent {counted(count, 'record')} to topic {topic!r}\n")


def show_frame(frame: pd.DataFrame) -> None:
    """Display a frame read in the background under the cell that asked."""
    display(frame)


def agents_frame(app: App) -> pd.DataFrame:
    """One row per agent: name, topic, concurrency, state and its counters."""
    rows = [
        (
            *(a.name, a.topic.name, a.concurrency, a.state),
            *(a.processed, a.errors, len(a.buffer)),
        )
        for a in app.agents.values()
    ]
    return pd.DataFrame(rows, columns=list(AGENT_COLUMNS))


def tables_frame(app: App) -> pd.DataFrame:
    """One row per table: name, number of keys, changelog topic."""
    rows = [(t.name, len(t), t.changelog.name) for t in app.tables]
    return pd.DataFrame(rows, columns=list(TABLE_COLUMNS))


def topics_frame(app: App) -> pd.DataFrame:
    """One row per topic the App declares or a table writes, with its users."""
    users: dict[str, list[str]] = {}
    partitions: dict[str, int] = {}
    for topic in app.topics.values():
        users.setdefault(topic.name, [])
        partitions[topic.name] = topic.partition_count
    for agent in app.agents.values():
        users.setdefault(agent.topic.name, []).append(f"agent {agent.name}")
        partitions.setdefault(agent.topic.name, agent.topic.partition_count)
    for table in app.tables:
        changelog = table.changelog
        users.setdefault(changelog.name, []).append(f"table {table.name}")
        partitions[changelog.name] = changelog.partition_count

    rows = [(name, partitions[name], ", ".join(users[name])) for name in users]
    return pd.DataFrame(rows, columns=list(TOPIC_COLUMNS))
