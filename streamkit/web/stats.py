"""Debug views: the Monitor's figures as JSON, only with ``debug=True``.

``GET /stats/`` answers the whole :meth:`~streamkit.sensors.Monitor.as_dict`
snapshot and ``GET /stats/{section}/`` one part of it (``agents``,
``topics``, ``tables``...).  Without ``debug`` they answer exactly what an
unknown path answers, 404; the setting is read per request, so turning it on
in a running notebook exposes them at once.  The figures hold counts and
names only: no settings, no broker URL, no credentials.
"""

from __future__ import annotations

from typing import Any

from .views import NotFound, Request, View


def no_page(path: str) -> NotFound:
    """The 404 of a path nothing answers."""
    return NotFound(f"no page at {path}")


class StatsView(View):
    """The monitor's snapshot, whole or one section."""

    async def get(self, request: Request, section: str | None = None) -> Any:
        if not self.app.conf.debug:
            raise no_page(request.path)
        figures = {"app_id": self.app.id, **self.app.monitor.as_dict()}
        if section is None:
            return self.json(figures)
        sections = sorted(k for k, v in figures.items() if isinstance(v, dict))
        if section not in sections:
            raise NotFound(
                f"no stats section {section!r}; the sections are: "
                f"{', '.join(sections)}",
                sections=sections,
            )
        return self.json(figures[section])
