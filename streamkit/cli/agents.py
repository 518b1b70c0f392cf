"""``streamkit agents``: the App's agents, the topics they read, their help."""

from __future__ import annotations

from typing import Any

import click

from ..app import App
from .output import emit, json_option, rich_table, wants_json


def describe_agents(app: App) -> list[dict[str, Any]]:
    """One entry per agent: name, topic, concurrency and docstring summary."""
    return [
        {
            "name": agent.name,
            "topic": agent.topic.name,
            "concurrency": agent.concurrency,
            "help": first_line(agent.fun.__doc__),
        }
        for agent in sorted(app.agents.values(), key=lambda a: a.name)
    ]


def first_line(doc: str | None) -> str:
    """The first non-empty line of a docstring, or ``""``."""
    for line in (doc or "").strip().splitlines():
        if line.strip():
            return line.strip()
    return ""


@click.command()
@json_option
@click.pass_context
def agents(ctx: click.Context, as_json: bool) -> None:
    """List the App's agents: name, topic, concurrency and help."""
    app: App = ctx.obj["get_app"]()
    rows = describe_agents(app)

    def render() -> Any:
        shown = rich_table(
            f"Agents of app {app.id}", "name", "topic", "concurrency", "help"
        )
        for row in rows:
            shown.add_row(
                row["name"], row["topic"], str(row["concurrency"]), row["help"]
            )
        return shown

    emit(rows, render, as_json=wants_json(ctx, as_json))
