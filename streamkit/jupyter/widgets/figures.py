"""How a figure and a throughput history are written into a widget's HTML.

Every figure is a ``<span class="streamkit-figure">`` that carries its owner
(an agent, a table or ``sensors``), its name and its raw value as data
attributes, next to the formatted text a person reads.  The raw value is
what programs (the browser test, a user's own scraping) read, so a change of
formatting never breaks them.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

SPARK_WIDTH = 240
SPARK_HEIGHT = 40


def format_number(value: float | int | None, *, digits: int = 0) -> str:
    """``12,345`` or ``12.5``; decimals only below 100, where they tell
    something; an en dash when the value is not known yet."""
    if value is None:
        return "–"
    if digits == 0 or abs(value) >= 100:
        return f"{round(value):,}"
    return f"{value:,.{digits}f}"


def figure(
    owner: str,
    name: str,
    value: float | int | None,
    *,
    label: str,
    digits: int = 0,
) -> str:
    """One labelled figure as HTML (see the module docstring)."""
    raw = "" if value is None else repr(round(value, 3) if digits else value)
    return (
        f'<span class="streamkit-figure" data-owner="{html.escape(owner)}" '
        f'data-figure="{html.escape(name)}" data-value="{raw}">'
        f"{format_number(value, digits=digits)}</span> {html.escape(label)}"
    )


def figures_line(parts: Sequence[str]) -> str:
    """Figures side by side, separated by a middle dot."""
    return '<span class="streamkit-figures">' + " · ".join(parts) + "</span>"


def sparkline(values: Sequence[float], *, title: str) -> str:
    """A small SVG line chart of ``values`` (oldest first), scaled to its
    own maximum; an empty chart until there are two points."""
    top = max(values, default=0.0) or 1.0
    step = SPARK_WIDTH / max(len(values) - 1, 1)
    points = " ".join(
        f"{i * step:.1f},{SPARK_HEIGHT - 2 - (v / top) * (SPARK_HEIGHT - 4):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg class="streamkit-throughput-chart" width="{SPARK_WIDTH}" '
        f'height="{SPARK_HEIGHT}" viewBox="0 0 {SPARK_WIDTH} {SPARK_HEIGHT}" '
        f'role="img" aria-label="{html.escape(title)}">'
        f"<title>{html.escape(title)}</title>"
        f'<rect width="{SPARK_WIDTH}" height="{SPARK_HEIGHT}" fill="none" '
        'stroke="#ccc"/>'
        f'<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" '
        f'points="{points}"/></svg>'
    )
