"""``%streamkit dashboard``: every agent, table and the sensors of one App.

Agents and tables defined after the dashboard was shown join it on its next
refresh; a redefined agent keeps its view (it is the same Agent).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ...transport import redact_url
from .agent_view import AgentView
from .refresh import LiveBox, refresher
from .sensor_panel import SensorPanel
from .table_view import TableView

if TYPE_CHECKING:
    from ...app import App


class Dashboard(LiveBox):
    """``Dashboard(app)``: displays and keeps itself current."""

    interval = 0.5

    def __init__(self, app: App) -> None:
        self.app = app
        self.header = widgets.HTML()
        self.agent_views: dict[str, AgentView] = {}
        self.table_views: dict[str, TableView] = {}
        self.agents_box = widgets.VBox()
        self.tables_box = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.sensors = SensorPanel(app)
        self._last: tuple[object, ...] = ()
        super().__init__([self.header, self.agents_box, self.tables_box, self.sensors])
        self.add_class("streamkit-dashboard")
        refresher.watch(self)

    @property
    def target(self) -> object:
        return self.app

    def close(self) -> None:
        for view in [*self.agent_views.values(), *self.table_views.values()]:
            view.close()
        self.sensors.close()
        super().close()

    def refresh(self) -> None:
        app = self.app
        state = _state(app)
        members = (tuple(app.agents), tuple(table.name for table in app.tables))
        if (state, members) == self._last:
            return
        self._last = (state, members)

        with self.hold_sync():
            self.header.value = (
                f"<h4 style='margin:.2em 0'>streamkit app "
                f"<code>{html.escape(app.id)}</code>: {state}</h4>"
                f"<small>broker <code>{html.escape(redact_url(app.conf.broker))}"
                "</code></small>"
            )
            _sync(self.agent_views, self.agents_box, app.agents, AgentView)
            _sync(
                self.table_views,
                self.tables_box,
                {table.name: table for table in app.tables},
                TableView,
            )


def _state(app: App) -> str:
    if app.is_running:
        return "running"
    return "starting" if app.is_starting else "stopped"


def _sync(
    views: dict[str, Any], box: widgets.Box, wanted: dict[str, Any], make: Any
) -> None:
    """Make ``box`` show one view per entry of ``wanted``, reusing views."""
    for name in list(views):
        if name not in wanted or views[name].target is not wanted[name]:
            views.pop(name).close()
    for name, obj in wanted.items():
        if name not in views:
            views[name] = make(obj)
    if tuple(box.children) != tuple(views.values()):
        box.children = tuple(views.values())
