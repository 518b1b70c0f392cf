"""``streamkit send TOPIC|@AGENT VALUE``: put records on a topic.

The App is not started (that would join its consumer group and run its
agents): the command opens a producer on the App's broker, creates the
topic as the App would (its declared partitions, else
``topic_partitions``), encodes the key and value with the topic's codec and
sends.  ``memory://`` is refused: the embedded broker lives in one process,
so what this process sent would vanish when it exits.
"""

from __future__ import annotations

import difflib
from typing import Any

import click

from ..app import App
from ..exceptions import DecodeError
from ..models import loads_json
from ..topics import Topic
from ..transport import RecordMetadata
from .connection import connected, require_kafka
from .output import emit, json_option, rich_table, run, setup_logging, wants_json


def target_topic(app: App, target: str) -> Topic:
    """The topic ``target`` names: ``@agent`` for an agent's, else a name.

    A name the App declares keeps its codec; another name gets the App's
    default serializers.

    Raises:
        click.UsageError: ``@name`` is not one of the App's agents.
    """
    if not target.startswith("@"):
        return app.topics.get(target) or Topic(app, target)
    name = target[1:]
    agent = app.agents.get(name)
    if agent is None:
        names = sorted(app.agents)
        close = difflib.get_close_matches(name, names, 1)
        hint = f" (did you mean @{close[0]}?)" if close else ""
        known = ", ".join(f"@{n}" for n in names) or "none"
        raise click.UsageError(
            f"app {app.id!r} has no agent {name!r}{hint}; its agents: {known}"
        )
    return agent.topic


def parse(text: str | None, serializer: str) -> Any:
    """A command-line value: JSON when it parses as JSON (for a JSON topic)."""
    if text is None or serializer != "json":
        return text
    try:
        return loads_json(text)
    except ValueError:
        return text


def encode(topic: Topic, role: str, text: str | None) -> tuple[Any, bytes | None]:
    """The value of ``text`` for the topic, and its bytes.

    ``text`` is tried as JSON first, then as text (so ``-k 42`` is the
    string ``"42"`` on a topic whose keys are ``str``); a candidate fits when
    its bytes decode again with the topic's codec, as a consumer would.

    Raises:
        click.BadParameter: neither fits the topic's type.
    """
    codec = topic.codec
    if role == "key":
        serializer = codec.key_serializer
        dumps, loads = codec.dumps_key, codec.loads_key
    else:
        serializer, dumps, loads = (
            codec.value_serializer,
            codec.dumps_value,
            codec.loads_value,
        )

    error: Exception | None = None
    for candidate in (parse(text, serializer), text):
        try:
            encoded = dumps(candidate)
            return loads(encoded), encoded
        except (DecodeError, TypeError) as exc:
            error = error or exc
    raise click.BadParameter(
        f"{text!r} does not fit topic {topic.name!r}: {error}",
        param_hint="KEY" if role == "key" else "VALUE",
    )


async def produce(
    app: App,
    topic: Topic,
    key: bytes | None,
    value: bytes | None,
    partition: int | None,
    repeat: int,
) -> list[RecordMetadata]:
    """Send the record ``repeat`` times, each acknowledged before the next."""
    async with connected(app) as transport:
        await transport.create_topic(
            topic.name, topic.partition_count, compacted=topic.compacted
        )
        producer = transport.create_producer()
        await producer.start()
        try:
            return [
                await producer.send_and_wait(topic.name, key, value, partition)
                for _ in range(repeat)
            ]
        finally:
            await producer.stop()


@click.command()
@click.argument("target", metavar="TOPIC|@AGENT")
@click.argument("value")
@click.option("-k", "--key", help="The record key (JSON if it parses, else text).")
@click.option(
    "-p",
    "--partition",
    type=click.IntRange(min=0),
    help="Send to this partition (default: by key, as Kafka does).",
)
@click.option(
    "-r",
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Send the record this many times.",
)
@json_option
@click.pass_context
def send(
    ctx: click.Context,
    target: str,
    value: str,
    key: str | None,
    partition: int | None,
    repeat: int,
    as_json: bool,
) -> None:
    """Send VALUE to TOPIC, or to the topic of agent @AGENT.

    VALUE and KEY are JSON when they parse as JSON (42, "42", {"a": 1}),
    else text; they are encoded with the topic's key and value types and
    serializers.  Needs Kafka (-b kafka://HOST:PORT): memory:// is the
    embedded broker of one process.
    """
    app: App = ctx.obj["get_app"]()
    topic = target_topic(app, target)
    require_kafka(app, "send", "the records would vanish when it exits")
    key_obj, key_bytes = encode(topic, "key", key)
    value_obj, value_bytes = encode(topic, "value", value)

    setup_logging("warning")
    sent = run(produce(app, topic, key_bytes, value_bytes, partition, repeat))

    rows = [
        {"topic": m.topic, "partition": m.partition, "offset": m.offset} for m in sent
    ]

    def render() -> Any:
        shown = rich_table(
            f"Sent {len(rows)} record(s) to {topic.name}: key={key_obj!r} "
            f"value={value_obj!r}",
            "topic",
            "partition",
            "offset",
        )
        for row in rows:
            shown.add_row(row["topic"], str(row["partition"]), str(row["offset"]))
        return shown

    emit(
        {"key": key_obj, "value": value_obj, "records": rows},
        render,
        as_json=wants_json(ctx, as_json),
    )
