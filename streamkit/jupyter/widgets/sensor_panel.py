"""The sensor panel: the Monitor's figures and a throughput history chart."""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...wording import plural
from .figures import figure, figures_line, format_number, sparkline
from .refresh import LiveBox, refresher

if TYPE_CHECKING:
    from ...app import App

OWNER = "sensors"
HISTORY_POINTS = 120
HISTORY_STEP = 1.0


class SensorPanel(LiveBox):
    """``SensorPanel(app)``: messages in and out, commits, errors, and the
    last two minutes of messages received per second."""

    interval = 0.5

    def __init__(self, app: App) -> None:
        self.app = app
        self.history: deque[float] = deque(maxlen=HISTORY_POINTS)
        self._next_point = 0.0
        self._last: tuple[object, ...] = ()

        self.figures = widgets.HTML()
        self.chart = widgets.HTML()
        super().__init__([self.figures, self.chart])
        self.add_class("streamkit-sensors")
        refresher.watch(self)

    def describe(self) -> str:
        monitor = self.app.monitor
        return (
            f"sensors of app {self.app.id!r}: {monitor.messages_received_total:,} "
            f"received, {monitor.messages_sent_total:,} sent, "
            f"{monitor.commits:,} commits"
        )

    def refresh(self) -> None:
        monitor = self.app.monitor
        received_rate = monitor.messages_per_second()
        sent_rate = monitor.messages_sent_per_second()
        now = time.monotonic()
        if now >= self._next_point:
            self._next_point = now + HISTORY_STEP
            self.history.append(received_rate or 0.0)

        commit_seconds = monitor.commit_latency.mean
        handler_errors = sum(monitor.agent_errors.values()) + sum(
            monitor.task_errors.values()
        )
        # (name, value, label, digits), one list per line of the panel.
        traffic = [
            ("messages_received", monitor.messages_received_total, "received", 0),
            ("messages_received_per_second", received_rate, "received/s", 1),
            ("messages_sent", monitor.messages_sent_total, "sent", 0),
            ("messages_sent_per_second", sent_rate, "sent/s", 1),
        ]
        health = [
            ("commits", monitor.commits, plural(monitor.commits, "commit"), 0),
            (
                "commit_latency_ms",
                None if commit_seconds is None else commit_seconds * 1000,
                "ms per commit",
                2,
            ),
            (
                "changelog_writes",
                monitor.changelog_writes,
                plural(monitor.changelog_writes, "changelog write"),
                0,
            ),
            ("decode_errors", sum(monitor.decode_errors.values()), "undecodable", 0),
            (
                "handler_errors",
                handler_errors,
                plural(handler_errors, "handler error"),
                0,
            ),
            (
                "rebalances",
                monitor.rebalances,
                plural(monitor.rebalances, "rebalance"),
                0,
            ),
        ]
        state = (traffic, health, len(self.history), self.history[-1])
        if state == self._last:
            return
        self._last = state

        lines = [
            figures_line(
                [
                    figure(OWNER, name, value, label=label, digits=digits)
                    for name, value, label, digits in line
                ]
            )
            for line in (traffic, health)
        ]
        with self.hold_sync():
            self.figures.value = "<br>".join(["<b>sensors</b>", *lines])
            self.chart.value = sparkline(
                list(self.history), title="messages received per second"
            ) + (
                "<br><small>messages received per second, last "
                f"{len(self.history)} s; peak "
                f"{format_number(max(self.history, default=0))}</small>"
            )
