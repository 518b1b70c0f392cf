"""What the commands print: rich tables for people, JSON for machines.

Every command that reports something takes ``--json`` (the group takes it
too, as Faust's ``faust --json agents`` does), and then prints one JSON
document on stdout and nothing else there; notes and warnings go to stderr
either way, so ``streamkit ... --json | jq`` always gets valid JSON.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from ..exceptions import StreamkitError
from ..models import to_jsonable

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

#: Width of tables written to a file or pipe.
PIPE_WIDTH = 200

LOGLEVELS = ["debug", "info", "warning", "error", "critical"]

json_option = click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print machine-readable JSON instead of a table.",
)


def setup_logging(loglevel: str) -> None:
    """Send log records to stderr through rich (the library installs none)."""
    logging.basicConfig(
        level=loglevel.upper(),
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console(stderr=True), show_path=False)],
        force=True,
    )


def wants_json(ctx: click.Context, as_json: bool) -> bool:
    """True when ``--json`` was given to the command or to the group."""
    return as_json or bool((ctx.find_root().obj or {}).get("json"))


def rich_table(title: str, *columns: str) -> Table:
    """A rich table whose cells wrap rather than lose characters."""
    shown = Table(title=title, title_justify="left", min_width=len(title))
    for column in columns:
        shown.add_column(column, overflow="fold")
    return shown


def emit(data: Any, human: Callable[[], Any], *, as_json: bool) -> None:
    """Print ``data`` as JSON, or what ``human()`` renders through rich."""
    if as_json:
        try:
            data = to_jsonable(data)
        except TypeError:  # a value with no JSON form: show its repr
            pass
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=repr))
        return
    console().print(human())


def note(message: str) -> None:
    """A remark for the person at the terminal, on stderr."""
    console(stderr=True).print(
        message, style="yellow", markup=False, highlight=False, soft_wrap=True
    )


def console(*, stderr: bool = False) -> Console:
    """A console; wide when writing to a file or pipe, so tables keep whole
    names on one line (``COLUMNS`` still wins)."""
    shown = Console(stderr=stderr)
    if not shown.is_terminal and "COLUMNS" not in os.environ:
        shown.width = PIPE_WIDTH
    return shown


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` on a new loop; streamkit errors become clean CLI errors.

    Raises:
        click.ClickException: for a :class:`~streamkit.exceptions.StreamkitError`
            or a timeout, so the user sees the message without a traceback
            and the process exits with status 1.
    """
    try:
        return asyncio.run(coro)
    except StreamkitError as exc:
        raise click.ClickException(str(exc)) from None
    except asyncio.TimeoutError:
        raise click.ClickException("the broker did not answer in time") from None
