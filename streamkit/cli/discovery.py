"""Finding the App a command line names with ``-A module[:attribute]``, and
checking the ``--broker`` URL it is pointed at."""

from __future__ import annotations

import importlib
import os
import sys

import click

from ..app import App
from ..exceptions import ConfigurationError, StreamkitError
from ..settings import Settings


def load_app(spec: str) -> App:
    """Import ``module[:attribute]`` and return its App.

    Without an attribute the module's ``app`` is used, or its only App.
    Raises :class:`click.UsageError` saying what to write instead, and
    :class:`click.ClickException` when importing the module raises a
    :class:`~streamkit.exceptions.StreamkitError` (a misspelt setting...).
    """
    module_name, _, attribute = spec.partition(":")

    # Like `python -m`, let a module in the current directory be found.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] and exc.name != module_name:
            raise
        raise click.UsageError(
            f"-A {spec}: no module named {module_name!r}. Pass an importable "
            "module (run from its directory or install it), e.g. -A flights"
        ) from exc
    except StreamkitError as exc:
        # A bad setting or definition in the module: the message names it.
        raise click.ClickException(f"-A {spec}: {exc}") from None

    if attribute:
        app = getattr(module, attribute, None)
        if not isinstance(app, App):
            raise click.UsageError(
                f"-A {spec}: {module_name}.{attribute} is not a streamkit.App "
                f"(got {type(app).__name__})"
            )
        return app

    apps = [v for v in vars(module).values() if isinstance(v, App)]
    if isinstance(getattr(module, "app", None), App):
        return module.app
    if len(apps) == 1:
        return apps[0]
    found = ", ".join(k for k, v in vars(module).items() if isinstance(v, App))
    raise click.UsageError(
        f"-A {spec}: expected one streamkit.App in {module_name}, found "
        f"{len(apps)}{' (' + found + ')' if found else ''}; name it as "
        f"-A {module_name}:ATTRIBUTE"
    )


def check_broker_url(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> str | None:
    """Click callback: reject a bad ``--broker`` URL while parsing options.

    Checked before the App is loaded, so ``streamkit worker --broker bogus://x``
    names the bad URL even when ``-A`` is missing too.
    """
    if value is None:
        return None
    try:
        Settings("streamkit", env={}, broker=value)
    except ConfigurationError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param) from None
    return value
