"""When the notebook stops Apps for the user.

Decisions:

- An App whose cell is run again is replaced: once no variable refers to the
  old, still running App and a variable holds a new one with the same id,
  the old one is stopped after the cell (:func:`stop_replaced_apps`) — two
  of them would share the consumer group and the tables.
- Apps still running when the process ends (kernel shutdown or restart)
  are stopped by an :mod:`atexit` hook, on their own loop: see
  :func:`stop_apps_at_exit`.  Terminal IPython clears the user namespace
  before the exit hooks run, so there they are stopped when the user asks
  to leave (:func:`stop_apps_when_asked_to_exit`).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import sys
from collections import defaultdict
from collections.abc import Coroutine
from typing import Any

from ..app import App
from ..embedding import active_apps, before_start
from .session import describe, run_and_report

logger = logging.getLogger(__name__)

_ASK_EXIT_ATTR = "_streamkit_ask_exit"

#: Seconds the exit hook waits for each App to stop.  A front end kills the
#: kernel sooner (jupyter_client: SIGTERM 2.5 s after the shutdown request),
#: so this only bounds an exit from terminal IPython with a broker gone.
EXIT_STOP_TIMEOUT = 30.0


def stop_apps_at_exit() -> None:
    """Stop every App still running in this process; an :mod:`atexit` hook.

    ipykernel answers a shutdown (or restart) request by stopping its loop
    and letting the process end, and terminal IPython returns from its
    prompt: in both the loop is stopped but not closed, and nothing cancels
    the App's tasks.  Running ``app.stop()`` on that loop lets agents finish
    their event, commits their offsets, leaves the consumer group (the next
    member gets the partitions at once instead of after the session timeout)
    and flushes the producer.
    """
    by_loop: defaultdict[asyncio.AbstractEventLoop, list[App]] = defaultdict(list)
    for app in active_apps():
        by_loop[app.loop].append(app)

    for loop, apps in by_loop.items():
        names = ", ".join(repr(app.id) for app in apps)
        if loop.is_closed() or loop.is_running():
            logger.warning(
                "cannot stop app %s at exit: its loop is %s; offsets since the "
                "last commit will be processed again. Stop it with "
                "`await app.stop()` before ending the session.",
                names,
                "closed" if loop.is_closed() else "busy",
            )
            continue
        logger.info("stopping app %s at exit", names)
        _run_to_the_end(loop, _stop_all(apps))


#: How often the exit hook runs the loop again after something else stopped it.
MAX_LOOP_REENTRIES = 100


def _run_to_the_end(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]
) -> None:
    # ipykernel asks its loop to stop from its control thread, and the
    # request can arrive again while the hook runs: run_until_complete then
    # returns early with the App half stopped (an actor's event cut short,
    # nothing committed).  Running the loop again finishes the stop, which
    # its own timeouts bound.
    future = asyncio.ensure_future(coro, loop=loop)
    for _ in range(MAX_LOOP_REENTRIES):
        try:
            loop.run_until_complete(future)
            return
        except RuntimeError:
            if future.done():
                raise
            logger.debug("the loop was stopped while apps stopped; running it again")
    logger.error(
        "apps did not stop at exit: their loop was stopped %d times while they "
        "stopped; offsets since the last commit will be processed again",
        MAX_LOOP_REENTRIES,
    )


async def _stop_all(apps: list[App]) -> None:
    results = await asyncio.gather(
        *(asyncio.wait_for(app.stop(), EXIT_STOP_TIMEOUT) for app in apps),
        return_exceptions=True,
    )
    for app, result in zip(apps, results, strict=True):
        if isinstance(result, BaseException):
            logger.error(
                "app %s did not stop cleanly at exit (%r): offsets since its "
                "last commit will be processed again",
                app.id,
                result,
            )


def stop_apps_when_asked_to_exit(shell: Any) -> None:
    """Terminal IPython: stop the running Apps when the user leaves
    (``exit``, Ctrl-D), once however often the extension is loaded.

    IPython clears the user namespace as soon as its prompt loop ends, before
    the process's exit hooks run, and an agent's event in flight still reads
    the namespace's variables: the Apps must stop before that, not in
    :func:`stop_apps_at_exit`.
    """
    if _ASK_EXIT_ATTR in shell.__dict__:
        return
    ask_exit = shell.ask_exit

    def stop_apps_then_ask_exit() -> None:
        stop_apps_at_exit()
        ask_exit()

    shell.__dict__[_ASK_EXIT_ATTR] = ask_exit
    shell.ask_exit = stop_apps_then_ask_exit


def register_exit_hook() -> None:
    """Make :func:`stop_apps_at_exit` run when the process ends, once.

    Registering again moves the hook last, so it runs first: before IPython
    and ipykernel tear down the shell and the output channels it reports on.
    """
    atexit.unregister(stop_apps_at_exit)
    atexit.register(stop_apps_at_exit)


def _replaced(shell: Any, successors: list[App]) -> list[App]:
    """Running Apps with the id and broker of one of ``successors`` that no
    variable of the user namespace refers to any more."""
    referenced = {
        id(obj)
        for var, obj in list(shell.user_ns.items())
        if isinstance(obj, App) and not var.startswith("_")
    }
    wanted = {(app.id, app.conf.broker) for app in successors}
    return [
        app
        for app in active_apps()
        if id(app) not in referenced
        and app not in successors
        and (app.id, app.conf.broker) in wanted
        and app.is_running
    ]


async def stop_replaced_before_start(successor: App) -> None:
    """Stop the App ``successor`` replaces before it starts, so that it reads
    the changelogs and offsets the old one leaves; a ``before_start`` hook."""
    from IPython import get_ipython

    shell = get_ipython()
    if shell is None:
        return
    for app in _replaced(shell, [successor]):
        await app.stop()
        sys.stdout.write(f"the previous {describe(app)}, replaced, stopped\n")


def stop_replaced_apps(shell: Any) -> None:
    """Stop running Apps that a re-run cell replaced and nothing started
    again (see the module docstring); after every cell."""
    defined = [
        obj
        for var, obj in list(shell.user_ns.items())
        if isinstance(obj, App) and not var.startswith("_")
    ]
    for app in _replaced(shell, defined):
        run_and_report(
            shell,
            app.stop(),
            done=f"the previous {describe(app)}, replaced by this cell, stopped",
            failed=f"the previous {describe(app)} failed to stop:",
        )


def _stop_replaced_after_cell(result: Any = None) -> None:
    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        stop_replaced_apps(shell)


def watch_for_replaced_apps(shell: Any) -> None:
    """Run :func:`stop_replaced_apps` after every cell, once however often
    the extension is loaded."""
    unwatch_replaced_apps(shell)
    shell.events.register("post_run_cell", _stop_replaced_after_cell)
    before_start(stop_replaced_before_start)


def unwatch_replaced_apps(shell: Any) -> None:
    try:
        shell.events.unregister("post_run_cell", _stop_replaced_after_cell)
    except ValueError:
        pass  # not registered
