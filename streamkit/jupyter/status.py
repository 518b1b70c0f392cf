"""``%streamkit status``: a snapshot of an App that renders as text and HTML.

The snapshot is taken when the magic runs (it does not refresh); the live
widgets are where numbers move.  The broker URL is shown with its secrets
redacted.  An App that stopped itself after an error it cannot recover from
(``app.failure``) says so under its state line, with the error, until it is
started again.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from ..app import App, describe_failure
from ..transport import redact_url

AGENT_COLUMNS = (
    "agent",
    "topic",
    "concurrency",
    "processed",
    "errors",
    "buffered",
    "state",
)
JOB_COLUMNS = ("job", "kind", "every (s)", "runs", "errors", "running")
TABLE_COLUMNS = ("table", "keys")
FAILURE_HEAD = "stopped after an error it cannot recover from"
FAILURE_ADVICE = (
    "fix its cause, then %streamkit start: offsets after the last successful "
    "commit are processed again"
)


@dataclass
class AppStatus:
    """What ``%streamkit status`` returns; also usable as ``AppStatus.of(app)``."""

    app_id: str
    state: str
    broker: str
    agents: list[tuple[Any, ...]] = field(default_factory=list)
    jobs: list[tuple[Any, ...]] = field(default_factory=list)
    tables: list[tuple[Any, ...]] = field(default_factory=list)
    #: Why the App stopped itself (``TransportError: ...``), or None.
    failure: str | None = None

    @classmethod
    def of(cls, app: App) -> AppStatus:
        if app.is_running:
            state = "running"
        elif app.is_starting:
            state = "starting"
        else:
            state = "stopped"
        agents = [
            (
                a.name,
                a.topic.name,
                a.concurrency,
                a.processed,
                a.errors,
                len(a.buffer),
                a.state,
            )
            for a in app.agents.values()
        ]
        jobs = [
            (
                job.name,
                job.kind,
                getattr(job, "interval", ""),
                job.runs,
                job.errors,
                "yes" if job.running else "no",
            )
            for job in app.scheduler.jobs.values()
        ]
        tables = [(table.name, len(table)) for table in app.tables]
        failure = None
        if state == "stopped" and app.failure is not None:
            failure = describe_failure(app.failure)
        return cls(
            app_id=app.id,
            state=state,
            broker=redact_url(app.conf.broker),
            agents=agents,
            jobs=jobs,
            tables=tables,
            failure=failure,
        )

    def _sections(self) -> list[tuple[tuple[str, ...], list[tuple[Any, ...]]]]:
        return [
            (AGENT_COLUMNS, self.agents),
            (JOB_COLUMNS, self.jobs),
            (TABLE_COLUMNS, self.tables),
        ]

    def __str__(self) -> str:
        lines = [f"app {self.app_id!r}: {self.state}, broker {self.broker}"]
        if self.failure is not None:
            lines.append(f"{FAILURE_HEAD}: {self.failure}")
            lines.append(FAILURE_ADVICE)
        for columns, rows in self._sections():
            lines.append("")
            lines.extend(_text_table(columns, rows))
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        parts = [
            f"<p><b>app {html.escape(repr(self.app_id))}</b>: "
            f"{html.escape(self.state)}, broker <code>"
            f"{html.escape(self.broker)}</code></p>"
        ]
        if self.failure is not None:
            parts.append(
                f"<p>{html.escape(FAILURE_HEAD)}: <code>"
                f"{html.escape(self.failure)}</code><br>"
                f"{html.escape(FAILURE_ADVICE)}</p>"
            )
        for columns, rows in self._sections():
            parts.append(_html_table(columns, rows))
        return "\n".join(parts)


def _text_table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    if not rows:
        return [f"{columns[0]}s: none"]
    cells = [columns, *[tuple(str(v) for v in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    return [
        "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in cells
    ]


def _html_table(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    if not rows:
        return f"<p>{html.escape(columns[0])}s: none</p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"
