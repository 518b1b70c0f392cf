"""Commands an App defines with ``@app.command()``.

``@app.command(option(...), argument(...))`` turns a function into a click
command of the App; ``streamkit -A module NAME`` and ``python module.py NAME``
(when the module ends with ``app.main()``) run it, and ``--help`` lists it
with the first line of its docstring.

The command runs without starting the App: a command that needs the broker,
its agents or its producer starts the App itself (``async with
app.running(): ...``), or talks to the broker some other way.  An ``async
def`` command runs on a new event loop with :func:`asyncio.run`.

As in Faust, a function whose first parameter is named ``self`` receives an
:class:`AppCommand` (with ``.app`` and ``.say()``) before the click values.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import click

from ..exceptions import ConfigurationError, StreamkitError

if TYPE_CHECKING:
    from ..app import App


class AppCommand:
    """What a command written as ``def f(self, ...)`` receives as ``self``."""

    def __init__(self, app: App, ctx: click.Context) -> None:
        self.app = app
        self.ctx = ctx

    def say(self, *parts: Any, err: bool = False) -> None:
        """Print ``parts`` separated by spaces (to stderr with ``err=True``)."""
        click.echo(" ".join(str(part) for part in parts), err=err)


def command_name(fun: Callable[..., Any]) -> str:
    """The command name of ``fun``: its name with ``_`` written as ``-``."""
    return fun.__name__.replace("_", "-")


def build_command(
    app: App,
    fun: Callable[..., Any],
    options: Sequence[Callable[[Callable[..., Any]], Any]],
    *,
    name: str | None = None,
    **kwargs: Any,
) -> click.Command:
    """A click command that runs ``fun`` with the parsed options.

    Args:
        app: the App the command belongs to.
        fun: the function, ``async def`` or plain.
        options: ``click.option(...)`` / ``click.argument(...)`` decorators,
            applied in the order given (the first is listed first).
        name: the command name; default :func:`command_name`.
        **kwargs: passed to :class:`click.Command` (``short_help``,
            ``hidden``...).

    Raises:
        TypeError: ``fun`` is not callable or an option is not a decorator.
        ConfigurationError: the name is a built-in command's (``worker``...).
    """
    if not callable(fun):
        raise TypeError(f"@app.command() decorates a function, got {fun!r}")
    name = name or command_name(fun)
    from .main import cli  # here: main imports the commands, not this module

    if name in cli.commands:
        raise ConfigurationError(
            f"@app.command(): {name!r} is a built-in streamkit command; name "
            f"yours differently, e.g. @app.command(name='{app.id}-{name}')"
        )
    params = list(inspect.signature(fun).parameters)
    takes_self = bool(params) and params[0] == "self"

    def callback(**values: Any) -> None:
        ctx = click.get_current_context()
        # The group's --broker applies to the App before the command runs.
        get_app = (ctx.find_root().obj or {}).get("get_app")
        if get_app is not None:
            get_app()
        args = (AppCommand(app, ctx),) if takes_self else ()
        run_handler(fun, *args, **values)

    for option in reversed(options):
        if not callable(option):
            raise TypeError(
                f"@app.command() takes streamkit.cli.option(...) or "
                f"streamkit.cli.argument(...) decorators, got {option!r}"
            )
        callback = option(callback)

    help_text = inspect.getdoc(fun)
    return click.command(name=name, help=help_text, **kwargs)(callback)


def run_handler(fun: Callable[..., Any], *args: Any, **values: Any) -> Any:
    """Call ``fun``; await what it returns when that is awaitable.

    A :class:`~streamkit.exceptions.StreamkitError` (such as sending from a
    stopped App) becomes a clean error message and exit status 1; any other
    exception is a bug in the command and keeps its traceback.
    """
    try:
        result = fun(*args, **values)
        if inspect.isawaitable(result):
            result = asyncio.run(_wait_for(result))
    except StreamkitError as exc:
        raise click.ClickException(str(exc)) from None
    return result


async def _wait_for(awaitable: Any) -> Any:
    return await awaitable
