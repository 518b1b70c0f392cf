"""The one exception hierarchy of streamkit."""

from __future__ import annotations


class StreamkitError(Exception):
    """Base class of every error streamkit raises on purpose."""


class ConfigurationError(StreamkitError, ValueError):
    """An App setting, URL or decorator argument is not valid."""


class TransportError(StreamkitError):
    """The broker could not be reached or refused a request."""


class AuthenticationError(TransportError):
    """The broker rejected the credentials."""


class DecodeError(StreamkitError, ValueError):
    """A message could not be decoded by its topic's codec."""


class TableError(StreamkitError):
    """A table was used in a way that would corrupt its state."""


class AgentError(StreamkitError):
    """An agent was defined or used incorrectly."""


class ExportError(StreamkitError):
    """A notebook cannot be compiled into a module (see :mod:`streamkit.export`)."""
