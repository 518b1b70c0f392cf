"""The App's web server: an aiohttp server on the App's loop.

It starts as the last step of the App's start (worker, notebook or test
alike: a few tasks on the running loop), so a running App answers, and
stops first when the App stops.  It listens on ``web_bind:web_port``
(127.0.0.1:6066 by default; see :mod:`streamkit.settings` for why not
0.0.0.0) unless ``web_enabled`` is False.  When the port is taken it logs a
warning and the App runs without it: two Apps in one notebook, or two
workers on one host, would otherwise fail to start over an optional feature.

Every request goes through one catch-all aiohttp route to :meth:`handle`,
which finds the page in a :class:`~.routes.Router` that can change while
the server runs.  A view that raises answers 500 with a JSON error body
(the exception's type; its message too with ``debug=True``), the traceback
is logged, and the server goes on.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import logging
import socket
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from .routes import Route, Router, compile_pattern
from .stats import StatsView, no_page
from .tables import TableKeyView, TableView
from .views import (
    FunctionView,
    HTTPError,
    Request,
    View,
    as_response,
    json_response,
)

if TYPE_CHECKING:
    from aiohttp import web as aiohttp_web

    from ..app import App

logger = logging.getLogger(__name__)

# How long stopping waits for requests being answered.
SHUTDOWN_TIMEOUT = 5.0

_ANY_ADDRESS = ("0.0.0.0", "::", "")


class WebServer:
    """Pages, built-in views and, while the App runs, the HTTP server."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.router = Router()
        self._runner: aiohttp_web.AppRunner | None = None
        self._add_builtin("/table/{name}/", TableView, "table")
        self._add_builtin("/table/{name}/{key}/", TableKeyView, "table-key")
        self._add_builtin("/stats/", StatsView, "stats")
        self._add_builtin("/stats/{section}/", StatsView, "stats-section")

    def _add_builtin(self, path: str, cls: type[View], name: str) -> None:
        self.router.add(Route(path, cls(self.app), name), builtin=True)

    def __repr__(self) -> str:
        return f"<WebServer {self.url or 'not listening'}>"

    # -- pages -------------------------------------------------------------

    def page(self, path: str, *, name: str | None = None) -> Callable[[Any], Any]:
        """Decorate a view function or a :class:`View` subclass to serve ``path``.

        Returns what it decorates, unchanged.  Defining a page at a path that
        has one replaces it, also while the server runs.

        Raises:
            ConfigurationError: ``path`` does not start with ``/`` (at once),
                or the decorated object is neither an ``async def`` function
                nor a View subclass.
        """
        compile_pattern(path)

        def decorate(target: Any) -> Any:
            self.add_page(path, target, name=name)
            return target

        return decorate

    def add_page(self, path: str, target: Any, *, name: str | None = None) -> Route:
        """Serve ``target`` (a view function or View subclass) at ``path``."""
        if isinstance(target, type) and issubclass(target, View):
            view: View = target(self.app)
        elif inspect.iscoroutinefunction(target):
            view = FunctionView(self.app, target)
        else:
            raise ConfigurationError(
                f"@app.page({path!r}) decorates an `async def view(web, "
                f"request)` or a streamkit.web.View subclass, got {target!r}"
            )
        route = Route(path, view, name or getattr(target, "__name__", path))
        self.router.add(route)
        return route

    # -- the server --------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """``(host, port)`` of each socket listening, as the OS reports it."""
        if self._runner is None:
            return []
        return [(a[0], a[1]) for a in self._runner.addresses]

    @property
    def url(self) -> str | None:
        """``http://host:port/`` while listening; host is ``web_host`` if set."""
        if not self.addresses:
            return None
        bound, port = self.addresses[0]
        host = self.app.conf.web_host or bound
        if host in _ANY_ADDRESS:
            host = socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{port}/"

    async def start(self) -> None:
        """Listen on ``web_bind:web_port``; does nothing when ``web_enabled``
        is False or the server already runs.  A port in use is logged as a
        warning and leaves the server stopped."""
        conf = self.app.conf
        if self._runner is not None:
            return
        if not conf.web_enabled:
            logger.debug("app %s: web server disabled (web_enabled=False)", conf.app_id)
            return
        if "aiohttp.web" not in sys.modules:
            # A first import takes ~0.3 s: off the loop, so the agents
            # already running (and a notebook's other work) do not stall.
            await asyncio.to_thread(importlib.import_module, "aiohttp.web")
        from aiohttp import web

        application = web.Application()
        application.router.add_route("*", "/{tail:.*}", self.handle)
        runner = web.AppRunner(
            application,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=SHUTDOWN_TIMEOUT,
        )
        await runner.setup()
        site = web.TCPSite(runner, conf.web_bind, conf.web_port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            logger.warning(
                "app %s: web server not started: cannot listen on %s:%d (%s); "
                "set web_port (worker --web-port) to a free port or 0 for any, "
                "or web_enabled=False (worker --without-web)",
                conf.app_id,
                conf.web_bind,
                conf.web_port,
                exc.strerror or exc,
            )
            return
        self._runner = runner
        logger.info("app %s: web server listening on %s", conf.app_id, self.url)

    async def stop(self) -> None:
        """Stop listening; requests being answered get SHUTDOWN_TIMEOUT seconds."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
            logger.info("app %s: web server stopped", self.app.id)

    # -- answering ---------------------------------------------------------

    async def handle(self, raw: aiohttp_web.Request) -> aiohttp_web.StreamResponse:
        """Answer one request: route, call the view, turn errors into JSON."""
        from aiohttp import web

        started = time.perf_counter()
        found = self.router.resolve(raw.rel_url.raw_path)
        if found is None:
            response = _error_response(no_page(raw.path))
        else:
            route, params = found
            try:
                result = await route.view.dispatch(Request(raw, params))
                response = as_response(result, route.view)
            except web.HTTPException:
                raise  # aiohttp's own way of answering; it knows what to do
            except HTTPError as exc:
                response = _error_response(exc)
            except Exception as exc:
                response = self._failure(route, raw, exc)
        logger.debug(
            "%s %s -> %d (%.1f ms)",
            raw.method,
            raw.path,
            response.status,
            (time.perf_counter() - started) * 1000,
        )
        return response

    def _failure(
        self, route: Route, raw: aiohttp_web.Request, exc: Exception
    ) -> aiohttp_web.Response:
        logger.error(
            "page %s (%s %s) raised %s; answered 500",
            route.name,
            raw.method,
            raw.path,
            type(exc).__name__,
            exc_info=exc,
        )
        body: dict[str, Any] = {
            "error": f"the view raised {type(exc).__name__}",
            "view": route.name,
        }
        # The message may hold anything the view had at hand; only a
        # developer's debug server shows it.
        if self.app.conf.debug:
            body["detail"] = str(exc)
        return json_response(body, status=500)


def _error_response(exc: HTTPError) -> aiohttp_web.Response:
    headers = None
    if exc.status == 405 and "allowed" in exc.extra:
        headers = {"Allow": ", ".join(exc.extra["allowed"])}
    body = {"error": exc.reason, **exc.extra}
    return json_response(body, status=exc.status, headers=headers)
