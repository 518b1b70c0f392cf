"""The magics: ``%streamkit start|stop|status``, ``%%agent`` and ``%%timer``.

Every check that can fail (options, which App, the cell's syntax, its one
``async def``) runs before anything is registered, so a bad cell shows its
error and leaves the running handler as it was.  Errors are raised as
:class:`UsageError`, which IPython shows without a traceback and which makes
the cell's reply status ``error`` (notebook runners stop on it).
"""

from __future__ import annotations

import argparse
import contextvars
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..app import App
from ..exceptions import StreamkitError
from ..magic_grammar import MagicParser, handler_parsers
from ..topics import Topic
from .cells import CellFunction, define_function
from .export import export_current_notebook
from .output import install_error_hook
from .session import call_on_loop, describe, find_app, run_and_report
from .status import AppStatus


def _line_magic_parsers() -> dict[str, MagicParser]:
    streamkit = MagicParser(prog="%streamkit", add_help=False)
    streamkit.add_argument("command", choices=("start", "stop", "status", "export"))
    streamkit.add_argument("--app", metavar="NAME")

    export = MagicParser(prog="%streamkit export", add_help=False)
    export.add_argument("export")
    export.add_argument("module", metavar="MODULE.py")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--notebook", metavar="PATH")
    source.add_argument("--history", action="store_true")
    return {"streamkit": streamkit, "export": export}


PARSERS = {**_line_magic_parsers(), **handler_parsers()}


def _parse(magic: str, line: str) -> argparse.Namespace:
    """The options of a magic, or a :class:`UsageError` saying what is wrong."""
    try:
        return PARSERS[magic].parse_line(line)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


@magics_class
class StreamkitMagics(Magics):
    """The streamkit magics; see each magic's docstring (``%%agent?``)."""

    @line_magic
    def streamkit(self, line: str) -> AppStatus | None:
        """%streamkit start|stop|status [--app NAME]
        %streamkit export MODULE.py [--notebook PATH | --history]

        start: start the App on the kernel's loop; "started" appears under
            this cell once it runs (``await app.start()`` in a cell is the
            same, and waits).  A following cell can simply ``await
            topic.send(...)``: sending waits while the App starts.  The
            start only begins once this cell returns to the loop, so to send
            in the same cell write ``await app.start()`` instead.
        stop: stop the App (finish current events, commit, disconnect).
        status: agents, timers and tables with their counters, and the
            broker (without secrets).
        export: write this notebook as a worker module (the saved notebook
            file when the kernel knows it, else the cells this kernel ran;
            see ``streamkit.jupyter.export``).
        """
        if line.split()[:1] == ["export"]:
            export_current_notebook(self.shell, _parse("export", line))
            return None
        args = _parse("streamkit", line)
        app = find_app(self.shell, args.app)

        if args.command == "status":
            return AppStatus.of(app)
        if args.command == "start":
            run_and_report(
                self.shell,
                app.start(),
                done=f"{describe(app)} started",
                failed=f"{describe(app)} failed to start:",
            )
        else:
            run_and_report(
                self.shell,
                app.stop(),
                done=f"{describe(app)} stopped",
                failed=f"{describe(app)} failed to stop cleanly:",
            )
        return None

    @cell_magic
    def agent(self, line: str, cell: str) -> None:
        """%%agent [TOPIC] [--name N] [--concurrency C] [--app NAME]

        The cell defines one ``async def f(stream)``, registered as an agent
        on TOPIC (a topic name, or a variable holding ``app.topic(...)``;
        without it an anonymous topic ``{app_id}-{name}``).  The agent is
        bound to the function's name, so ``await f.send(value=...)`` works.

        Re-running the cell replaces the running function live: the old body
        finishes its current event, the new one continues with the next, and
        tables keep their state.  A cell that fails to compile, or a bad
        option, leaves the running agent untouched.  An exception in the
        body shows its traceback under this cell, counts in ``f.errors``, and
        the agent goes on with the next event.
        """
        args = _parse("agent", line)
        app = find_app(self.shell, args.app)
        channel = self._channel(app, args.topic)
        defined = define_function(
            self.shell, line, cell, magic="agent", signature="async def f(stream)"
        )
        name = args.name or defined.name

        replacing = name in app.agents
        agent = self._register(
            defined,
            lambda: app.agent(
                channel,
                name=name,
                concurrency=args.concurrency,
                context=contextvars.copy_context(),
            )(defined.fun),
        )
        install_error_hook(self.shell, agent)
        self.shell.user_ns[defined.name] = agent

        if not app.is_running:
            when = "it starts with the app (%streamkit start)"
        elif replacing:
            when = "replaced live: the new body takes the next event"
        else:
            when = "running"
        sys.stdout.write(
            f"agent {name!r} on topic {agent.topic.name!r} "
            f"(concurrency {agent.concurrency}): {when}\n"
        )

    @cell_magic
    def timer(self, line: str, cell: str) -> None:
        """%%timer SECONDS [--name N] [--app NAME]

        The cell defines one ``async def f()`` (or ``f(app)``), run every
        SECONDS while the App runs.  Re-running the cell replaces the timer;
        errors show under this cell and are counted in ``f.errors``.
        """
        args = _parse("timer", line)
        seconds = float(args.seconds)
        app = find_app(self.shell, args.app)
        defined = define_function(
            self.shell, line, cell, magic="timer", signature="async def f()"
        )
        name = args.name or defined.name

        job = self._register(
            defined,
            lambda: app.timer(seconds, name=name, context=contextvars.copy_context())(
                defined.fun
            ),
        )
        install_error_hook(self.shell, job)
        self.shell.user_ns[defined.name] = job

        when = "running" if app.is_running else "it starts with the app"
        sys.stdout.write(f"timer {name!r} every {seconds:g}s: {when}\n")

    def _register(self, defined: CellFunction, register: Any) -> Any:
        # The copy_context() inside ``register`` runs here, in the cell's
        # context, which is what routes the handler's output to this cell.
        try:
            return call_on_loop(register)
        except StreamkitError as exc:
            defined.restore(self.shell.user_ns)
            raise UsageError(f"{exc}; the running handler is unchanged.") from None

    def _channel(self, app: App, topic: str | None) -> Topic | str | None:
        """The agent's topic: a Topic variable, a topic the App knows, or a name.

        A registered Topic object keeps the key and value types it was
        declared with (``app.topic("t", value_type=Flight)``).
        """
        if topic is None:
            return None
        obj = self.shell.user_ns.get(topic)
        if isinstance(obj, Topic):
            return obj
        return app.topics.get(topic, topic)
