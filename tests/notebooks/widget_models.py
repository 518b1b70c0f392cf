"""The widget models a kernel sent, rebuilt from its iopub messages as a
front end would (comm_open, then comm_msg updates), and the streamkit
figures they show."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime
from typing import Any

FIGURE = re.compile(
    r'<span class="streamkit-figure" data-owner="(?P<owner>[^"]*)" '
    r'data-figure="(?P<name>[^"]*)" data-value="(?P<value>[^"]*)">'
)
ROW = re.compile(r"<tr><th>(?P<key>[^<]*)</th>(?P<cells>(?:<td>[^<]*</td>)*)</tr>")
CELL = re.compile(r"<td>([^<]*)</td>")


def _seconds(date: Any) -> float:
    if isinstance(date, str):
        date = datetime.fromisoformat(date)
    return date.timestamp()


class WidgetModels:
    """Latest state of every widget model seen in ``messages``."""

    def __init__(self, messages: list[dict[str, Any]]) -> None:
        self.state: dict[str, dict[str, Any]] = {}
        self.updates: Counter[str] = Counter()
        self.update_times: dict[str, list[float]] = {}
        for msg in messages:
            content = msg["content"]
            if msg["msg_type"] == "comm_open" and content.get("target_name") == (
                "jupyter.widget"
            ):
                self.state[content["comm_id"]] = dict(content["data"]["state"])
            elif msg["msg_type"] == "comm_msg":
                data = content["data"]
                comm = content["comm_id"]
                if data.get("method") == "update" and comm in self.state:
                    self.state[comm].update(data["state"])
                    self.updates[comm] += 1
                    self.update_times.setdefault(comm, []).append(
                        _seconds(msg["header"]["date"])
                    )

    def with_class(self, css_class: str) -> list[dict[str, Any]]:
        return [
            s for s in self.state.values() if css_class in s.get("_dom_classes", ())
        ]

    def html(self) -> str:
        return "\n".join(
            s["value"]
            for s in self.state.values()
            if s.get("_model_name") == "HTMLModel" and isinstance(s.get("value"), str)
        )

    def figures(self) -> dict[tuple[str, str], float | None]:
        """``(owner, figure) -> value`` over every HTML model."""
        found: dict[tuple[str, str], float | None] = {}
        for match in FIGURE.finditer(self.html()):
            raw = match["value"]
            found[(match["owner"], match["name"])] = float(raw) if raw else None
        return found

    def table_rows(self, table: str) -> dict[str, list[str]]:
        """Key -> cell texts of the table view of ``table``."""
        start = f'data-table="{table}"'
        for state in self.state.values():
            value = state.get("value")
            if isinstance(value, str) and start in value:
                body = value.split("<tbody>", 1)[1]
                return {
                    row["key"]: CELL.findall(row["cells"]) for row in ROW.finditer(body)
                }
        raise AssertionError(f"no table view of {table!r} was sent")
