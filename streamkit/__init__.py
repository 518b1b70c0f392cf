"""streamkit: Faust-compatible stream processing, live in a notebook.

The public API; everything else is an implementation detail.
"""

from __future__ import annotations

from .agents import Agent
from .app import App
from .credentials import SASLCredentials, SSLCredentials
from .events import Event
from .exceptions import (
    AgentError,
    AuthenticationError,
    ConfigurationError,
    DecodeError,
    StreamkitError,
    TableError,
    TransportError,
)
from .models import Record
from .sensors import Monitor
from .settings import Settings
from .streams import Stream
from .tables import Table
from .topics import Topic

__version__ = "0.1.0"

__all__ = [
    "Agent",
    "AgentError",
    "App",
    "AuthenticationError",
    "ConfigurationError",
    "DecodeError",
    "Event",
    "Monitor",
    "Record",
    "SASLCredentials",
    "SSLCredentials",
    "Settings",
    "Stream",
    "StreamkitError",
    "Table",
    "TableError",
    "Topic",
    "TransportError",
    "__version__",
    "load_ipython_extension",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython):  # noqa: ANN001 - IPython's shell
    """``%load_ext streamkit``: register the streamkit magics."""
    from .jupyter import load_ipython_extension as load

    load(ipython)


def unload_ipython_extension(ipython):  # noqa: ANN001 - IPython's shell
    from .jupyter import unload_ipython_extension as unload

    unload(ipython)


def __getattr__(name: str) -> object:  # PEP 562: a module attribute hook
    # ``faust.cli.option`` works after ``import streamkit as faust`` without
    # importing the command line (click, rich) on every ``import streamkit``.
    if name == "cli":
        import importlib

        return importlib.import_module(".cli", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
