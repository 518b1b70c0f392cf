"""The web server of an App: ``@app.page`` views, table views, debug stats.

Public API: :class:`View` (base of class-based views and the ``web``
argument of function views), :class:`Request`, and the errors a view may
raise to answer with a status: :class:`HTTPError`, :class:`BadRequest`,
:class:`NotFound`.  See :mod:`streamkit.web.views` for what views get and
return, and :mod:`streamkit.web.server` for when the server runs.
"""

from __future__ import annotations

from .server import WebServer
from .views import BadRequest, HTTPError, MissingParameter, NotFound, Request, View

__all__ = [
    "BadRequest",
    "HTTPError",
    "MissingParameter",
    "NotFound",
    "Request",
    "View",
    "WebServer",
]
