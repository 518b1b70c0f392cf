"""The live view of one table: its newest, largest or first rows, filtered
by key, redrawn at most twice a second.

The rows are drawn as the table's DataFrame would show them (the key, then
a column per Record field, or ``value``), but only the N shown rows are
ever built: a view of a table with millions of keys costs the pipeline a
scan for "largest" and nothing more for "newest" or a key filter.
"""

from __future__ import annotations

import heapq
import html
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ...tables.table import key_order, row_of
from ...wording import plural
from .figures import figure, figures_line
from .refresh import LiveBox, refresher

if TYPE_CHECKING:
    from ...tables.table import Table

ORDERS = {
    "newest first": "newest",
    "largest first": "largest",
    "by key": "key",
}
DEFAULT_ROWS = 10
MAX_ROWS = 500


class TableView(LiveBox):
    """``TableView(table, rows=10, order="newest"|"largest"|"key", key_filter="")``."""

    interval = 0.5

    def __init__(
        self,
        table: Table,
        *,
        rows: int = DEFAULT_ROWS,
        order: str = "newest",
        key_filter: str = "",
    ) -> None:
        if order not in ORDERS.values():
            raise ValueError(
                f"order={order!r}: use one of {', '.join(map(repr, ORDERS.values()))}"
            )
        self.table = table
        table.track_recent()
        self._last: tuple[object, ...] = ()

        self.title = widgets.HTML()
        self.key_filter = widgets.Text(
            value=key_filter,
            placeholder="filter keys",
            layout=widgets.Layout(width="160px"),
        )
        self.key_filter.add_class("streamkit-table-filter")
        self.order = widgets.Dropdown(
            options=list(ORDERS.items()),
            value=order,
            layout=widgets.Layout(width="130px"),
        )
        self.sort_by = widgets.Dropdown(
            options=["value"],
            description="by",
            disabled=order != "largest",
            layout=widgets.Layout(width="170px"),
        )
        self.rows = widgets.BoundedIntText(
            value=rows,
            min=1,
            max=MAX_ROWS,
            description="rows",
            layout=widgets.Layout(width="130px"),
        )
        self.body = widgets.HTML()
        for control in (self.key_filter, self.order, self.sort_by, self.rows):
            control.observe(self._controls_changed, names="value")

        super().__init__(
            [
                self.title,
                widgets.HBox([self.key_filter, self.order, self.sort_by, self.rows]),
                self.body,
            ]
        )
        self.add_class("streamkit-table")
        refresher.watch(self)

    def _controls_changed(self, _change: Any) -> None:
        self.sort_by.disabled = self.order.value != "largest"
        self._last = ()
        self.refresh()

    @property
    def target(self) -> object:
        return self.table

    def refresh(self) -> None:
        table = self.table
        controls = (
            self.key_filter.value,
            self.order.value,
            self.sort_by.value,
            self.rows.value,
        )
        state = (table.writes, len(table), controls)
        if state == self._last:
            return
        self._last = state

        keys = self._pick_keys()
        rows = [(key, row_of(table.peek(key))) for key in keys]
        columns: dict[str, None] = {}
        for _, row in rows:
            columns.update(dict.fromkeys(row))
        with self.hold_sync():
            self.title.value = f"<b>{html.escape(table.name)}</b> " + figures_line(
                [
                    figure(
                        table.name, "keys", len(table), label=plural(len(table), "key")
                    )
                ]
            )
            self._offer_columns(list(columns))
            self.body.value = _rows_html(table.name, list(columns), rows)

    def _pick_keys(self) -> list[Any]:
        table, count = self.table, self.rows.value
        needle = self.key_filter.value.strip().lower()
        order = self.order.value

        def wanted(key: Any) -> bool:
            return not needle or needle in str(key).lower()

        if order == "newest" and not needle:
            return table.newest_keys(count)
        candidates = [key for key in table.keys() if wanted(key)]
        if order == "newest":
            newest = table.newest_keys(len(table))
            return [key for key in newest if wanted(key)][:count]
        if order == "key":
            return sorted(candidates, key=key_order)[:count]
        column = self.sort_by.value
        return heapq.nlargest(
            count, candidates, key=lambda key: _number(table.peek(key), column)
        )

    def _offer_columns(self, columns: list[str]) -> None:
        offered = columns or ["value"]
        if list(self.sort_by.options) != offered:
            current = self.sort_by.value
            self.sort_by.options = offered
            self.sort_by.value = current if current in offered else offered[0]


def _number(value: Any, column: str) -> float:
    """The sortable number of ``value``'s ``column``; rows without one last."""
    field = row_of(value).get(column)
    if isinstance(field, bool) or not isinstance(field, int | float):
        return float("-inf")
    return float(field)


def _rows_html(name: str, columns: list[str], rows: list[tuple[Any, dict]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr><th>{html.escape(str(key))}</th>"
        + "".join(f"<td>{html.escape(_cell(row.get(c)))}</td>" for c in columns)
        + "</tr>"
        for key, row in rows
    )
    return (
        f'<table class="streamkit-table-rows" data-table="{html.escape(name)}">'
        f"<thead><tr><th>key</th>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def _cell(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(value)
