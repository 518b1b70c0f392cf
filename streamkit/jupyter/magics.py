"""The magics: ``%streamkit start|stop|status|export``, the inspection and
input magics (``%streamkit peek|send|agents|tables|topics``, ``%%send``),
``%%agent`` and ``%%timer``.

Every check that can fail (options, which App, the cell's syntax, its one
``async def``) runs before anything is registered, so a bad cell shows its
error and leaves the running handler as it was.  Errors are raised as
:class:`UsageError`, which IPython shows without a traceback and which makes
the cell's reply status ``error`` (notebook runners stop on it).
"""

from __future__ import annotations

import argparse
import ast
import contextvars
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ..app import App
from ..exceptions import StreamkitError
from ..magic_grammar import MagicParser, handler_parsers, inspection_parsers
from ..topics import Topic
from .cells import CellFunction, define_function
from .export import export_current_notebook
from .inspection import (
    agents_frame,
    check_records,
    frame_rows,
    keyed_records,
    parse_for,
    read_last,
    report_sent,
    run_now_or_schedule,
    send_records,
    show_frame,
    tables_frame,
    topics_frame,
    value_for,
)
from .output import install_error_hook
from .session import call_on_loop, describe, find_app, in_kernel, run_and_report
from .status import AppStatus


def _line_magic_parsers() -> dict[str, MagicParser]:
    streamkit = MagicParser(prog="%streamkit", add_help=False)
    streamkit.add_argument(
        "command",
        choices=(
            *("start", "stop", "status", "dashboard", "agents", "tables", "topics"),
            *("peek", "send", "export"),
        ),
    )
    streamkit.add_argument("--app", metavar="NAME")

    export = MagicParser(prog="%streamkit export", add_help=False)
    export.add_argument("export", help=argparse.SUPPRESS)
    export.add_argument("module", metavar="MODULE.py")
    source = export.add_mutually_exclusive_group()
    source.add_argument("--notebook", metavar="PATH")
    source.add_argument("--history", action="store_true")
    return {"streamkit": streamkit, "export": export}


PARSERS = {**_line_magic_parsers(), **handler_parsers(), **inspection_parsers()}
FRAMES = {"agents": agents_frame, "tables": tables_frame, "topics": topics_frame}


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
    def streamkit(self, line: str) -> Any:
        """%streamkit start|stop|status|dashboard|agents|tables|topics [--app NAME]
        %streamkit peek TOPIC [-n N] [--partition P] [--app NAME]
        %streamkit send TOPIC VALUE [--key K] [--app NAME]
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
        dashboard: live widgets of every agent (buffer fill, events/s,
            processed, lag, errors), every table (newest, largest or first
            rows, filter by key) and the sensors, kept current a few times a
            second; as text in terminal IPython.
        export: write this notebook as a worker module (the saved notebook
            file when the kernel knows it, else the cells this kernel ran;
            see ``streamkit.jupyter.export``).
        agents, tables, topics: the App's definitions and counters as a
            pandas DataFrame.
        peek: the last N (10) records of TOPIC, or of its partition P, as a
            DataFrame (partition, offset, timestamp, key, value, error),
            newest last; keys and values decoded as the App's Topic declares
            (records as dicts), undecodable ones raw with the reason in
            ``error``.  Needs the running App.  On ``memory://`` the frame
            is this cell's value; on Kafka it is read in the background and
            shown under this cell when ready.
        send: send one record to TOPIC; VALUE and K are JSON when they parse
            as JSON, else strings (the text itself for a topic of str).  A
            record the topic's declared types could not read back is
            refused.  Prints the partition and offset.
        """
        command = line.split()[:1]
        if command == ["export"]:
            export_current_notebook(self.shell, _parse("export", line))
            return None
        if command == ["peek"]:
            return self._peek(_parse("peek", line))
        if command == ["send"]:
            args = _parse("send", line)
            topic = self._send_target(args)
            self._send(topic, args, [value_for(topic, args.value)])
            return None
        args = _parse("streamkit", line)
        app = find_app(self.shell, args.app)

        if args.command == "status":
            return AppStatus.of(app)
        if args.command == "dashboard":
            if not in_kernel(self.shell):
                return AppStatus.of(app)
            from .widgets import widget_for

            return widget_for(app)
        if args.command in FRAMES:
            return FRAMES[args.command](app)
        if args.command == "start" and app.is_running:
            sys.stdout.write(f"{describe(app)} is already running\n")
        elif args.command == "stop" and not (app.is_running or app.is_starting):
            sys.stdout.write(f"{describe(app)} is not running\n")
        elif args.command == "start":
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
    def send(self, line: str, cell: str) -> None:
        """%%send TOPIC [--key K | --key-field FIELD] [--app NAME]

        Send each non-empty line of the cell to TOPIC (JSON when the line
        parses as JSON, else the string), or, when the cell is one Python
        expression whose value is a pandas DataFrame, each row as a dict (a
        named index is kept as a field).  The same --key goes with every
        record; --key-field takes each record's key from its field FIELD.
        Records the topic's declared key_type/value_type could not read back
        are refused before anything is sent.  Prints how many were sent.
        An expression that fails to evaluate is sent as a line of text.
        """
        args = _parse("send_cell", line)
        topic = self._send_target(args)
        frame = self._frame_of(cell)
        if frame is None:
            lines = (text.strip() for text in cell.splitlines())
            values = [value_for(topic, text) for text in lines if text]
        else:
            try:
                values = frame_rows(frame)
            except StreamkitError as exc:
                raise UsageError(f"%%send: {exc}") from None
        self._send(topic, args, values)

    def _frame_of(self, cell: str) -> Any:
        """The DataFrame a one-expression cell evaluates to, else None."""
        import pandas as pd

        try:
            body = ast.parse(cell).body
        except SyntaxError:
            return None
        if len(body) != 1 or not isinstance(body[0], ast.Expr):
            return None
        try:
            value = self.shell.ev(cell.strip())
        except Exception:  # text that happens to parse, e.g. a bare word
            return None
        return value if isinstance(value, pd.DataFrame) else None

    def _peek(self, args: argparse.Namespace) -> Any:
        app = find_app(self.shell, args.app)
        if not app.is_running:
            raise UsageError(
                f"%streamkit peek reads through the running App, and "
                f"{describe(app)} is not running: %streamkit start first."
            )
        try:
            return run_now_or_schedule(
                self.shell,
                app,
                read_last(app, args.topic, args.n, args.partition),
                show=show_frame,
                failed=f"%streamkit peek {args.topic} failed:",
            )
        except StreamkitError as exc:
            raise UsageError(str(exc)) from None

    def _send_target(self, args: argparse.Namespace) -> Topic:
        """The topic to send to, of an App that runs or is starting."""
        app = find_app(self.shell, args.app)
        if not (app.is_running or app.is_starting):
            raise UsageError(
                f"cannot send to topic {args.topic!r}: {describe(app)} is not "
                "running; %streamkit start first."
            )
        return app.topics.get(args.topic) or call_on_loop(lambda: app.topic(args.topic))

    def _send(self, topic: Topic, args: argparse.Namespace, values: list[Any]) -> None:
        app = topic.app
        try:
            records = keyed_records(
                values,
                topic,
                key=parse_for(args.key, topic.key_type, topic.codec.key_serializer),
                key_field=getattr(args, "key_field", None),
            )
            check_records(topic, records)
            sent = run_now_or_schedule(
                self.shell,
                app,
                send_records(topic, records),
                show=lambda sent: report_sent(topic.name, sent),
                failed=f"sending to topic {topic.name!r} failed:",
            )
        except (StreamkitError, TypeError) as exc:
            raise UsageError(f"sending to topic {topic.name!r}: {exc}") from None
        if sent is not None:
            report_sent(topic.name, sent)

    @cell_magic
    def agent(self, line: str, cell: str) -> None:
        """%%agent [TOPIC] [--name N] [--concurrency C] [--app NAME]

        The cell defines one ``async def f(stream)``, registered as an agent
        on TOPIC (a topic name, or a variable holding ``app.topic(...)``;
        without it an anonymous topic ``{app_id}-{name}``).  The agent is
        bound to the function's name, so ``await f.send(value=...)`` works.
        The function loops over its stream for as long as the App runs; one
        that returns ends the agent (a warning under this cell says what it
        left unprocessed) until the cell is run again.

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
        previous_topic = app.agents[name].topic.name if replacing else None
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
        if previous_topic not in (None, agent.topic.name):
            # A dropped or edited TOPIC is easy to miss in a re-run cell.
            sys.stdout.write(
                f"  moved from topic {previous_topic!r}"
                + ("" if args.topic else ": the cell names no TOPIC now")
                + f"; give {previous_topic} as %%agent's TOPIC to stay there\n"
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

        replacing = name in app.scheduler.jobs
        job = self._register(
            defined,
            lambda: app.timer(seconds, name=name, context=contextvars.copy_context())(
                defined.fun
            ),
        )
        install_error_hook(self.shell, job)
        self.shell.user_ns[defined.name] = job

        if not app.is_running:
            when = "it starts with the app"
        elif replacing:
            when = "replaced live: the new body runs from the next tick"
        else:
            when = "running"
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
