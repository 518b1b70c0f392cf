"""``streamkit topics``: the App's topics, and what exists on the broker."""

from __future__ import annotations

from typing import Any

import click
from rich.console import Group

from ..app import App
from ..topics import Topic
from ..transport import redact_url
from .connection import MEMORY_EXPLAINED, connected, is_memory
from .output import emit, json_option, note, rich_table, run, setup_logging, wants_json


def app_topics(app: App) -> list[dict[str, Any]]:
    """The topics the App declares (agents' and tables' included), by name."""
    found: dict[str, Topic] = dict(app.topics)
    used_by: dict[str, list[str]] = {}
    for agent in app.agents.values():
        found.setdefault(agent.topic.name, agent.topic)
        used_by.setdefault(agent.topic.name, []).append(f"agent {agent.name}")
    for table in app.tables:
        found.setdefault(table.changelog.name, table.changelog)
        used_by.setdefault(table.changelog.name, []).append(f"table {table.name}")

    return [
        {
            "name": name,
            "partitions": topic.partition_count,
            "compacted": topic.compacted,
            "used_by": sorted(used_by.get(name, [])),
        }
        for name, topic in sorted(found.items())
    ]


async def broker_topics(app: App) -> dict[str, int]:
    """Every topic on the App's broker with its partition count."""
    async with connected(app) as transport:
        return dict(sorted((await transport.list_topics()).items()))


@click.command()
@click.option(
    "--offline",
    is_flag=True,
    help="List only the App's topics; do not ask the broker.",
)
@json_option
@click.pass_context
def topics(ctx: click.Context, offline: bool, as_json: bool) -> None:
    """List the App's topics, and those on the broker.

    Each topic is shown with its partitions, whether it is compacted, what
    uses it and its partitions on the broker.

    The App's topics are those its agents read, its tables' changelogs and
    those declared with app.topic().  On memory:// the broker is not asked:
    it is the embedded broker of one process, empty in this one.
    """
    app: App = ctx.obj["get_app"]()
    rows = app_topics(app)
    url = redact_url(app.conf.broker)

    on_broker: dict[str, int] | None = None
    if is_memory(app) and not offline:
        note(f"{MEMORY_EXPLAINED}; listing only the App's topics")
    elif not offline:
        setup_logging("warning")
        on_broker = run(broker_topics(app))
        for row in rows:
            row["on_broker"] = on_broker.get(row["name"])

    def render() -> Any:
        columns = ["topic", "partitions", "compacted", "used by"]
        if on_broker is not None:
            columns.append(f"on {url}")
        mine = rich_table(f"Topics of app {app.id}", *columns)
        for row in rows:
            cells = [
                row["name"],
                str(row["partitions"]),
                "yes" if row["compacted"] else "no",
                ", ".join(row["used_by"]) or "-",
            ]
            if on_broker is not None:
                found = row["on_broker"]
                cells.append("missing" if found is None else f"{found} partitions")
            mine.add_row(*cells)
        if on_broker is None:
            return mine

        theirs = rich_table(f"Topics on {url}", "topic", "partitions")
        for name, count in on_broker.items():
            theirs.add_row(name, str(count))
        return Group(mine, theirs)

    data = {"app": app.id, "broker": url, "topics": rows, "broker_topics": on_broker}
    emit(data, render, as_json=wants_json(ctx, as_json))
