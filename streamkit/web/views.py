"""Views: what ``@app.page`` serves, the request they get, the responses
they build.

A function view is ``async def view(web, request, **params)``: ``web`` is a
:class:`View` whose helpers build responses (``web.json({...})``), as in
Faust.  A class view subclasses :class:`View` and defines ``get``, ``post``,
``put``, ``patch`` or ``delete(self, request, **params)``; another method
answers 405.  Path parameters (``/orders/{id}/``) are passed as keyword
arguments to the views that declare them (or take ``**kwargs``), and are
always in ``request.match_info``.

What a view returns becomes the response: an aiohttp response as is, None
an empty ``200 OK`` (the seed's sample view returns nothing), a dict or list
JSON, a str ``text/plain`` and bytes ``application/octet-stream``.

The request is a small :class:`Request` wrapper, not aiohttp's own: the
server matches paths itself (pages can be added while it runs), so aiohttp's
``match_info`` would be wrong, and a missing query parameter should answer
400, not 500.  Everything else of aiohttp's request is reachable through it.

aiohttp is imported when the first response is built, not when streamkit is,
so an App without pages pays nothing for it.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ..exceptions import StreamkitError
from ..models import dumps_json, loads_json

if TYPE_CHECKING:
    from aiohttp import web as aiohttp_web

    from ..app import App

#: HTTP methods a class view may define, as method names.
METHODS = ("get", "post", "put", "patch", "delete")

_MISSING: Any = object()


def _aiohttp_web() -> Any:
    # Imported on first use: it costs ~0.3 s, which an App without pages
    # (most notebooks) should not pay.
    from aiohttp import web

    return web


def json_response(
    value: Any, *, status: int = 200, headers: Mapping[str, str] | None = None
) -> aiohttp_web.Response:
    """``value`` encoded as JSON the way records are sent (NaN as null)."""
    return _aiohttp_web().Response(
        body=dumps_json(value),
        status=status,
        headers=headers,
        content_type="application/json",
    )


class HTTPError(StreamkitError):
    """Raise it in a view to answer ``status`` with ``{"error": reason}``."""

    def __init__(self, status: int, reason: str, **extra: Any) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.extra = extra


class BadRequest(HTTPError):
    """400: the request lacks something the view needs, or is malformed."""

    def __init__(self, reason: str, **extra: Any) -> None:
        super().__init__(400, reason, **extra)


class NotFound(HTTPError):
    """404: the thing asked for does not exist."""

    def __init__(self, reason: str = "Not Found", **extra: Any) -> None:
        super().__init__(404, reason, **extra)


class MissingParameter(BadRequest, KeyError):
    """A query parameter the view read is absent; a KeyError too, so
    ``except KeyError`` in views keeps working."""

    def __str__(self) -> str:
        return self.reason


class QueryParams(Mapping[str, str]):
    """The query string: ``query["n"]``, ``query.get("n")``, ``query.getall("tag")``.

    Reading a missing parameter with ``[]`` raises :class:`MissingParameter`,
    which the server answers with 400 naming the parameter.
    """

    def __init__(self, params: Any) -> None:
        self._params = params  # aiohttp's MultiDictProxy

    def __getitem__(self, name: str) -> str:
        try:
            return str(self._params[name])
        except KeyError:
            raise MissingParameter(f"missing query parameter {name!r}") from None

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys(self._params.keys()))

    def __len__(self) -> int:
        return len(dict.fromkeys(self._params.keys()))

    def getall(self, name: str, default: Any = _MISSING) -> list[str]:
        """Every value of a repeated parameter (``?tag=a&tag=b``)."""
        values = self._params.getall(name, [])
        if not values and default is not _MISSING:
            return list(default)
        return [str(v) for v in values]

    def __repr__(self) -> str:
        return f"QueryParams({dict(self._params)!r})"


class Request:
    """The request a view gets: ``query``, ``match_info``, ``json()``...

    Attributes it does not define (``cookies``, ``remote``, ``content``...)
    are aiohttp's, through :attr:`raw`.
    """

    def __init__(self, raw: aiohttp_web.Request, match_info: dict[str, str]):
        self.raw = raw
        self.match_info = match_info
        self.query = QueryParams(raw.query)

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def path(self) -> str:
        return self.raw.path

    @property
    def headers(self) -> Mapping[str, str]:
        return self.raw.headers

    @property
    def url(self) -> Any:
        return self.raw.url

    def query_param(
        self, name: str, default: Any = _MISSING, *, type: Callable[[str], Any] = str
    ) -> Any:
        """A query parameter converted by ``type`` (``int``, ``float``...).

        Raises:
            MissingParameter: it is absent and no default is given (400).
            BadRequest: ``type`` rejects it (400, naming the parameter).
        """
        if name not in self.query:
            if default is _MISSING:
                raise MissingParameter(f"missing query parameter {name!r}")
            return default
        text = self.query[name]
        try:
            return type(text)
        except (TypeError, ValueError):
            expected = getattr(type, "__name__", repr(type))
            raise BadRequest(
                f"query parameter {name!r} must be {expected}, got {text!r}"
            ) from None

    async def read(self) -> bytes:
        """The body as bytes."""
        return await self.raw.read()

    async def text(self) -> str:
        """The body as text."""
        return await self.raw.text()

    async def json(self) -> Any:
        """The body decoded as JSON.

        Raises:
            BadRequest: the body is empty or not JSON (answered with 400).
        """
        body = await self.raw.read()
        if not body:
            raise BadRequest("the request body is empty; send a JSON document")
        try:
            return loads_json(body)
        except ValueError as exc:
            raise BadRequest(f"the request body is not JSON: {exc}") from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)

    def __repr__(self) -> str:
        return f"<Request {self.method} {self.raw.path_qs}>"


class View:
    """Base of class-based views, and the ``web`` argument of function views.

    Subclasses define ``async def get(self, request, **params)`` and the
    like; one instance answers every request of its page.

    Args:
        app: the App serving the page (``self.app`` in the view).
        web: accepted for Faust compatibility (``View(app, web)``); unused.
    """

    def __init__(self, app: App, web: Any = None) -> None:
        self.app = app
        self._params_of: dict[str, set[str] | None] = {}

    # -- responses ---------------------------------------------------------

    def json(
        self,
        value: Any,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp_web.Response:
        """A JSON response; records become objects, NaN null."""
        return json_response(value, status=status, headers=headers)

    def text(
        self,
        value: str,
        *,
        content_type: str = "text/plain",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp_web.Response:
        """A text response (UTF-8)."""
        return _aiohttp_web().Response(
            text=value, content_type=content_type, status=status, headers=headers
        )

    def html(
        self,
        value: str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp_web.Response:
        """An HTML response (UTF-8)."""
        return self.text(
            value, content_type="text/html", status=status, headers=headers
        )

    def bytes(
        self,
        value: bytes,
        *,
        content_type: str = "application/octet-stream",
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> aiohttp_web.Response:
        """A response of raw bytes."""
        return _aiohttp_web().Response(
            body=value, content_type=content_type, status=status, headers=headers
        )

    def error(self, status: int, reason: str, **extra: Any) -> aiohttp_web.Response:
        """``{"error": reason, **extra}`` with ``status``."""
        return self.json({"error": reason, **extra}, status=status)

    def not_found(
        self, reason: str = "Not Found", **extra: Any
    ) -> aiohttp_web.Response:
        """A 404 response with a JSON error body."""
        return self.error(404, reason, **extra)

    notfound = not_found  # Faust's name

    # -- dispatch ----------------------------------------------------------

    def allowed_methods(self) -> list[str]:
        """The HTTP methods this view answers."""
        return [m.upper() for m in METHODS if callable(getattr(self, m, None))]

    def handler_for(self, method: str) -> Callable[..., Awaitable[Any]] | None:
        """The method answering an HTTP ``method``; HEAD is answered by ``get``."""
        name = "get" if method == "HEAD" else method.lower()
        if name not in METHODS:
            return None
        handler = getattr(self, name, None)
        return handler if callable(handler) else None

    async def dispatch(self, request: Request) -> Any:
        """Call the method for ``request`` with the path parameters it declares.

        Raises:
            HTTPError: 405 when the view has no method for the request's.
        """
        handler = self.handler_for(request.method)
        if handler is None:
            raise HTTPError(
                405,
                f"{request.method} is not allowed here",
                allowed=self.allowed_methods(),
            )
        params = self._accepted(request.method, handler, request.match_info)
        return await handler(request, **params)

    def _accepted(
        self, key: str, fun: Callable[..., Any], params: dict[str, str]
    ) -> dict[str, str]:
        if not params:
            return params
        if key not in self._params_of:
            self._params_of[key] = _keyword_names(fun)
        names = self._params_of[key]
        if names is None:
            return params
        return {k: v for k, v in params.items() if k in names}


class FunctionView(View):
    """The view of ``async def view(web, request, **params)``: every method
    calls the function, with this view as ``web``, as in Faust."""

    def __init__(self, app: App, fun: Callable[..., Awaitable[Any]]) -> None:
        super().__init__(app)
        self.fun = fun

    def allowed_methods(self) -> list[str]:
        return [m.upper() for m in METHODS]

    async def dispatch(self, request: Request) -> Any:
        params = self._accepted("fun", self.fun, request.match_info)
        return await self.fun(self, request, **params)

    def __repr__(self) -> str:
        return f"<FunctionView {self.fun.__qualname__}>"


def _keyword_names(fun: Callable[..., Any]) -> set[str] | None:
    """Names ``fun`` accepts as keywords; None when it takes ``**kwargs``."""
    try:
        signature = inspect.signature(fun)
    except (TypeError, ValueError):
        return None
    names = set()
    for parameter in signature.parameters.values():
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            return None
        if parameter.kind in (
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.KEYWORD_ONLY,
        ):
            names.add(parameter.name)
    return names


def as_response(result: Any, view: View) -> aiohttp_web.StreamResponse:
    """What a view returned, as a response.

    Raises:
        TypeError: the view returned something with no obvious response.
    """
    web = _aiohttp_web()
    if isinstance(result, web.StreamResponse):
        return result
    if result is None:
        return web.Response(status=200)
    if isinstance(result, (dict, list)):
        return view.json(result)
    if isinstance(result, str):
        return view.text(result)
    if isinstance(result, (bytes, bytearray)):
        return view.bytes(bytes(result))
    raise TypeError(
        f"a view returned a {type(result).__name__}; return web.json(...), "
        "web.text(...), a dict, a str, bytes or None"
    )
