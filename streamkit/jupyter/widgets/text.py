"""The plain-text version of an App, agent or table.

What a front end without widgets shows (nbconvert, terminal IPython), and
the ``text/plain`` part beside every live widget.
"""

from __future__ import annotations

from ...agents import Agent
from ...app import App
from ...tables.table import Table
from ...wording import plural
from ..status import AppStatus

TEXT_ROWS = 10


def text_of(obj: App | Agent | Table) -> str:
    """The plain-text summary shown where widgets cannot be."""
    if isinstance(obj, App):
        return str(AppStatus.of(obj))
    if isinstance(obj, Agent):
        errors = f"{obj.errors:,} {plural(obj.errors, 'error')}"
        buffer = f"{len(obj.buffer):,}/{obj.buffer.maxsize:,}"
        return (
            f"agent {obj.name!r} on {obj.topic.name!r} ({obj.state}): "
            f"{obj.processed:,} processed, {errors}, buffer {buffer}"
        )
    head = f"table {obj.name!r}: {len(obj):,} {plural(len(obj), 'key')}"
    if not len(obj):
        return head
    frame = obj.as_dataframe()
    more = f"\n... {len(frame) - TEXT_ROWS:,} more" if len(frame) > TEXT_ROWS else ""
    return f"{head}\n{frame.head(TEXT_ROWS).to_string()}{more}"
