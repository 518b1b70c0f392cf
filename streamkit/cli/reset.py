"""``streamkit reset``: delete the App's local table state.

Local table state lives under ``app.conf.tabledir`` (``<datadir>/tables``
unless set).  Tables are recovered from their changelog topics when a worker
starts, so deleting the local copy loses nothing the broker holds; the
topics themselves are not touched.  The command deletes what is in the
directory and lists it: with today's in-memory tables that is usually
nothing, and it says so.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click
from rich.text import Text

from ..app import App
from .output import emit, json_option, rich_table, wants_json


def check_deletable(tabledir: Path) -> None:
    """Refuse a table directory whose deletion would take more than tables.

    Raises:
        click.ClickException: ``tabledir`` is a file, the root or home
            directory, or holds the current directory.
    """
    resolved = tabledir.resolve()
    cwd = Path.cwd().resolve()
    if resolved in (Path(resolved.anchor), Path.home().resolve()) or (
        cwd == resolved or resolved in cwd.parents
    ):
        raise click.ClickException(
            f"refusing to empty tabledir {str(tabledir)!r}: it is {resolved}, "
            "which holds more than table state; give the App a tabledir "
            "(or datadir) of its own"
        )
    if tabledir.exists() and not tabledir.is_dir():
        raise click.ClickException(
            f"tabledir {str(tabledir)!r} is a file, not a directory; "
            "check the App's tabledir setting"
        )


def remove_contents(tabledir: Path) -> list[str]:
    """Delete every entry of ``tabledir``; returns their paths, sorted."""
    if not tabledir.is_dir():
        return []
    removed = []
    for entry in sorted(tabledir.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
        removed.append(str(entry))
    return removed


@click.command()
@json_option
@click.pass_context
def reset(ctx: click.Context, as_json: bool) -> None:
    """Delete the App's local table state.

    Everything under the App's tabledir is deleted and listed.  Workers
    recover the tables from their changelog topics when they next start;
    the topics on the broker are not touched.  Stop this App's workers on
    this machine first.
    """
    app: App = ctx.obj["get_app"]()
    tabledir = app.conf.tabledir
    check_deletable(tabledir)
    removed = remove_contents(tabledir)

    def render() -> Any:
        if not removed:
            return Text(f"Nothing to remove: {tabledir} holds no table state.")
        shown = rich_table(f"Removed from {tabledir}", "path")
        for path in removed:
            shown.add_row(path)
        return shown

    data = {"app": app.id, "tabledir": str(tabledir), "removed": removed}
    emit(data, render, as_json=wants_json(ctx, as_json))
