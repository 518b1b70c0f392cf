"""URL patterns and the router that maps a request path to a view.

aiohttp freezes its router once the server runs, and a notebook defines
pages while the App runs, so the server has one catch-all route and this
router does the matching.  Patterns follow aiohttp's syntax: ``{name}``
matches one path segment, ``{name:regex}`` a regular expression.  A trailing
slash is optional on both sides: ``/orders/{id}/`` also answers
``/orders/42``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..exceptions import ConfigurationError

logger = logging.getLogger(__name__)

_PARAM = re.compile(r"\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::(?P<regex>[^{}]+))?\}")


def compile_pattern(path: str) -> re.Pattern[str]:
    """The regular expression matching the raw (still quoted) request paths
    of ``path``.

    Raises:
        ConfigurationError: ``path`` does not start with ``/`` or names a
            parameter twice.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise ConfigurationError(
            f"a page path must start with '/', got {path!r}; e.g. '/orders/{{id}}/'"
        )
    body = path.rstrip("/")
    parts, seen, position = [], set(), 0
    for match in _PARAM.finditer(body):
        name = match["name"]
        if name in seen:
            raise ConfigurationError(f"page path {path!r} names {{{name}}} twice")
        seen.add(name)
        parts.append(re.escape(body[position : match.start()]))
        parts.append(f"(?P<{name}>{match['regex'] or '[^/]+'})")
        position = match.end()
    parts.append(re.escape(body[position:]))
    return re.compile("".join(parts) + "/?")


@dataclass
class Route:
    """A path pattern and the view that answers it."""

    path: str
    view: Any
    name: str
    regex: re.Pattern[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.regex = compile_pattern(self.path)

    def match(self, raw_path: str) -> dict[str, str] | None:
        """The path parameters, unquoted, when ``raw_path`` matches; else None."""
        found = self.regex.fullmatch(raw_path)
        if found is None:
            return None
        return {k: unquote(v) for k, v in found.groupdict().items()}


class Router:
    """Routes in definition order: user pages first, then the built-in ones.

    Adding a route with a path that exists replaces it in place, so a
    notebook cell defining a page can be run again.
    """

    def __init__(self) -> None:
        self._pages: dict[str, Route] = {}
        self._builtin: dict[str, Route] = {}

    def add(self, route: Route, *, builtin: bool = False) -> None:
        routes = self._builtin if builtin else self._pages
        key = route.path.rstrip("/") or "/"
        if key in routes:
            logger.info("page %s: replaced by %s", route.path, route.name)
        routes[key] = route

    def remove(self, path: str) -> Route | None:
        """Forget the page at ``path``; returns it, or None when there is none."""
        return self._pages.pop(path.rstrip("/") or "/", None)

    @property
    def pages(self) -> list[Route]:
        """The user's pages, in definition order."""
        return list(self._pages.values())

    def resolve(self, raw_path: str) -> tuple[Route, dict[str, str]] | None:
        """The first route matching ``raw_path``, with its parameters."""
        for routes in (self._pages, self._builtin):
            for route in list(routes.values()):
                params = route.match(raw_path)
                if params is not None:
                    return route, params
        return None
