"""The Apps of this process, for whatever embeds them (the notebook extension).

A worker owns its App and stops it itself.  An embedding does not: it learns
which Apps are starting or running (:func:`active_apps`), to stop them when
the process ends, and may run a hook before any App starts
(:func:`before_start`).  The App reports itself here
(:func:`app_starting`, :func:`app_stopped`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .app import App

#: Every App from the beginning of ``start()`` to the end of ``stop()``.  Held
#: strongly: at interpreter exit a running App may have no other reference
#: left (terminal IPython clears the user namespace first), yet it must still
#: be stopped to commit its offsets and leave its group.
_active_apps: set[App] = set()

#: Awaited with an App before it starts (see :func:`before_start`).
_before_start: list[Callable[[App], Awaitable[None]]] = []


def active_apps() -> list[App]:
    """The Apps of this process that are starting or running."""
    return list(_active_apps)


def before_start(hook: Callable[[App], Awaitable[None]]) -> None:
    """Await ``hook(app)`` at the beginning of every App's ``start()``, once
    however often it is registered.

    The notebook extension stops the App that a re-run cell replaced before
    its successor reads the same changelogs.
    """
    if hook not in _before_start:
        _before_start.append(hook)


async def app_starting(app: App) -> None:
    """Run the :func:`before_start` hooks, then count ``app`` as active."""
    for hook in list(_before_start):
        await hook(app)
    _active_apps.add(app)


def app_stopped(app: App) -> None:
    """``app`` stopped, or its start failed: it is no longer active."""
    _active_apps.discard(app)
