"""``streamkit tables [NAME]``: the App's tables, or one table's contents.

The contents come from the table's changelog topic on the broker, the same
records a worker recovers the table from, so they are what the workers had
committed when the command started; no worker has to stop.  That needs a
broker another process can reach: ``memory://`` lives inside one process.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

import click

from ..app import App
from ..models import to_jsonable
from ..tables import Table
from ..transport import TP, redact_url
from .connection import connected, require_kafka
from .output import emit, json_option, note, rich_table, run, setup_logging, wants_json


def describe_tables(app: App) -> list[dict[str, Any]]:
    """One entry per table: name, changelog topic, partitions, default, help."""
    return [
        {
            "name": t.name,
            "changelog": t.changelog.name,
            "partitions": t.changelog.partition_count,
            "default": default_name(t.default),
            "help": t.help,
        }
        for t in sorted(app.tables, key=lambda t: t.name)
    ]


def default_name(default: Any) -> str | None:
    """``int`` for ``default=int``; None for a table without a default."""
    if default is None:
        return None
    return getattr(default, "__qualname__", None) or repr(default)


async def read_changelog(app: App, table: Table) -> bool:
    """Fill ``table`` from its changelog; False when that topic does not exist.

    Raises:
        TransportError: the broker cannot be reached or refuses a read.
    """
    async with connected(app) as transport:
        topic = table.changelog.name
        count = await transport.partition_count(topic)
        if count is None:
            return False
        tps = [TP(topic, partition) for partition in range(count)]
        ends = await transport.end_offsets(tps)
        for tp in tps:
            if ends.get(tp, 0) > 0:
                async for batch in transport.read_partition(tp, 0, ends[tp]):
                    table.apply_changelog(batch)
    return True


def sorted_items(table: Table) -> list[tuple[Any, Any]]:
    """The table's items by key; keys of mixed types are grouped by type."""
    items = table.items()
    try:
        return sorted(items, key=lambda kv: (type(kv[0]).__name__, kv[0]))
    except TypeError:  # keys that do not order (records, None with others)
        return sorted(items, key=lambda kv: repr(kv[0]))


def shown(value: Any) -> str:
    """A cell: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(to_jsonable(value), ensure_ascii=False)
    except TypeError:
        return repr(value)


def find_table(app: App, name: str) -> Table:
    """The App's table ``name``.

    Raises:
        click.UsageError: no such table; names the close ones, or all.
    """
    if name in app.tables:
        return app.tables[name]
    names = sorted(t.name for t in app.tables)
    close = difflib.get_close_matches(name, names, 1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    known = ", ".join(names) if names else "none"
    raise click.UsageError(
        f"app {app.id!r} has no table {name!r}{hint}; its tables: {known}"
    )


@click.command()
@click.argument("name", required=False)
@json_option
@click.pass_context
def tables(ctx: click.Context, name: str | None, as_json: bool) -> None:
    """List the App's tables, or print the contents of table NAME.

    NAME's contents are read from its changelog topic on the broker: what
    the workers have committed.  That needs Kafka (-b kafka://HOST:PORT):
    memory:// is the embedded broker of one process, and this command runs
    in a process of its own.
    """
    app: App = ctx.obj["get_app"]()
    as_json = wants_json(ctx, as_json)
    if name is None:
        list_tables(app, as_json)
        return

    table = find_table(app, name)
    require_kafka(app, f"tables {name}", "it would always show an empty table")
    setup_logging("warning")
    if not run(read_changelog(app, table)):
        note(
            f"changelog topic {table.changelog.name!r} does not exist on "
            f"{redact_url(app.conf.broker)} yet: no worker has written table "
            f"{name!r}, so it is empty"
        )
    items = sorted_items(table)

    def render() -> Any:
        contents = rich_table(f"Table {name} ({len(items)} keys)", "key", "value")
        for key, value in items:
            contents.add_row(shown(key), shown(value))
        return contents

    emit([{"key": k, "value": v} for k, v in items], render, as_json=as_json)


def list_tables(app: App, as_json: bool) -> None:
    rows = describe_tables(app)

    def render() -> Any:
        shown = rich_table(
            f"Tables of app {app.id}",
            *("name", "changelog topic", "partitions", "default", "help"),
        )
        for row in rows:
            shown.add_row(
                row["name"],
                row["changelog"],
                str(row["partitions"]),
                row["default"] or "-",
                row["help"],
            )
        return shown

    emit(rows, render, as_json=as_json)
