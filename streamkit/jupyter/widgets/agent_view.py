"""The live widget of one agent: buffer fill, events/s, processed, lag, errors.

The buffer bar is the agent's stream buffer against
``stream_buffer_maxsize``: a bar that stays full means the agent is the
bottleneck and the consumer is waiting for it (back pressure).  Lag is what
the agent still has to do: the records of its topic's partitions assigned to
this App from the oldest it has not finished (see ``Conductor.lag``), read
once a second.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...wording import plural
from .figures import figure, figures_line
from .refresh import LiveBox, refresher

if TYPE_CHECKING:
    from ...agents import Agent


class AgentView(LiveBox):
    """``AgentView(agent)``: displays and keeps itself current."""

    interval = 0.2

    def __init__(self, agent: Agent) -> None:
        self.agent = agent
        self._probe = refresher.probe(agent.app)
        self._last: tuple[object, ...] = ()

        self.title = widgets.HTML()
        self.buffer_bar = widgets.IntProgress(
            min=0,
            max=max(agent.buffer.maxsize, 1),
            description="buffer",
            layout=widgets.Layout(width="260px"),
        )
        self.buffer_bar.add_class("streamkit-buffer")
        self.buffer_text = widgets.HTML()
        self.figures = widgets.HTML()
        self.error_badge = widgets.HTML()
        self.error_badge.add_class("streamkit-error-badge")

        super().__init__(
            [
                self.title,
                widgets.HBox([self.buffer_bar, self.buffer_text]),
                widgets.HBox([self.figures, self.error_badge]),
            ]
        )
        self.add_class("streamkit-agent")
        refresher.watch(self)

    @property
    def target(self) -> object:
        return self.agent

    def refresh(self) -> None:
        agent = self.agent
        monitor = agent.app.monitor
        buffered, maxsize = len(agent.buffer), agent.buffer.maxsize
        rate = monitor.events_per_second(agent.name)
        lag = self._probe.lag(agent.topic.name)
        state = (
            agent.topic.name,
            agent.concurrency,
            agent.state,
            buffered,
            maxsize,
            rate,
            agent.processed,
            lag,
            agent.errors,
            agent.last_error,
        )
        if state == self._last:
            return
        self._last = state

        name = agent.name
        with self.hold_sync():
            self.title.value = (
                f"<b>{html.escape(name)}</b> ← <code>"
                f"{html.escape(agent.topic.name)}</code> "
                f"<small>(concurrency {agent.concurrency}, {agent.state})</small>"
            )
            self.buffer_bar.max = max(maxsize, 1)
            self.buffer_bar.value = min(buffered, maxsize)
            self.buffer_text.value = (
                figure(name, "buffered", buffered, label="/")
                + " "
                + figure(name, "buffer_max", maxsize, label="buffered")
            )
            self.figures.value = figures_line(
                [
                    figure(name, "events_per_second", rate, label="events/s", digits=1),
                    figure(name, "processed", agent.processed, label="processed"),
                    figure(name, "lag", lag, label="lag"),
                ]
            )
            self.error_badge.value = _error_badge(name, agent.errors, agent.last_error)


def _error_badge(name: str, errors: int, last_error: str | None) -> str:
    colour = "#c62828" if errors else "#9e9e9e"
    tip = html.escape(last_error or "no errors", quote=True)
    return (
        f'<span title="{tip}" style="margin-left:1em;padding:0 .5em;'
        f'border-radius:.8em;color:white;background:{colour}">'
        f"{figure(name, 'errors', errors, label=plural(errors, 'error'))}"
        "</span>"
    )
