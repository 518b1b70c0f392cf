"""How streamkit connects to Kafka: client options from credentials, and errors.

:func:`client_kwargs` is the one place where credentials become aiokafka
options; :func:`broker_errors` is the one place where aiokafka's exceptions
become streamkit's.  Neither ever puts a password into a message.

aiokafka logs every request at DEBUG, and a SASL/PLAIN login request carries
the password in the clear (``SaslAuthenticateRequest(sasl_auth_bytes=
b'user\\x00user\\x00password')``).  So once credentials are in use, a
:class:`logging.Filter` on aiokafka's loggers (a filter, not a handler: the
library still installs no handler) masks login requests and any password
it knows of before a record reaches any handler.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)

from ..exceptions import AuthenticationError, ConfigurationError, TransportError

__all__ = [
    "SASL_MECHANISMS",
    "broker_errors",
    "client_kwargs",
    "protect_secret",
    "translate_error",
]

logger = logging.getLogger(__name__)

SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_DEFAULT_PORT = 9092

_LOGIN_ERRORS = (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    IllegalSaslStateError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)


def _servers(bootstrap: str | Sequence[str]) -> list[str]:
    parts = [bootstrap] if isinstance(bootstrap, str) else list(bootstrap)
    servers = []
    for part in parts:
        for server in part.replace(",", ";").split(";"):
            server = server.strip()
            if server:
                servers.append(server if ":" in server else f"{server}:{_DEFAULT_PORT}")
    if not servers:
        raise ConfigurationError(
            f"no Kafka server in {bootstrap!r}; "
            "use a broker URL like 'kafka://localhost:9092'"
        )
    return servers


def _mechanism(credentials: object) -> str:
    raw = getattr(credentials, "mechanism", None) or "PLAIN"
    # Faust-style credentials carry an enum whose value is the name.
    name = str(getattr(raw, "value", raw)).upper().replace("_", "-")
    if name not in SASL_MECHANISMS:
        raise ConfigurationError(
            f"SASL mechanism {name!r} is not supported; "
            f"use one of {', '.join(SASL_MECHANISMS)}"
        )
    return name


class _RedactSecrets(logging.Filter):
    """Masks SASL login requests and known passwords in aiokafka's records."""

    def __init__(self) -> None:
        super().__init__("streamkit-redact-secrets")
        self.secrets: set[str] = set()

    def forms(self) -> set[str]:
        # The password as text, and as it shows inside a bytes or str repr.
        found = set()
        for secret in self.secrets:
            found.update(
                {secret, repr(secret)[1:-1], repr(secret.encode())[2:-1]} - {""}
            )
        return found

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(
                "SaslAuthenticateRequest(<redacted>)"
                if type(arg).__name__.startswith("SaslAuthenticateRequest")
                else arg
                for arg in record.args
            )
        forms = self.forms()
        if not forms:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the handler's to report
            return True
        if any(form in message for form in forms):
            record.msg, record.args = _mask(message, forms), ()
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info))
            if any(form in text for form in forms):
                record.exc_info, record.exc_text = None, _mask(text, forms)
        return True


def _mask(text: str, forms: set[str]) -> str:
    for form in sorted(forms, key=len, reverse=True):
        text = text.replace(form, "***")
    return text


class _WarnPlaintextOnce(logging.Filter):
    """Lets aiokafka's warning about a login sent in the clear through once.

    aiokafka warns at every connection it opens (several per client, more
    at each metadata refresh), which buries a notebook's cells and a
    worker's log under the same line; once per process says it.
    """

    MESSAGE = "Sending username and password in the clear"

    def __init__(self) -> None:
        super().__init__("streamkit-warn-plaintext-once")
        self.warned = False

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg != self.MESSAGE:
            return True
        if self.warned:
            return False
        self.warned = True
        record.msg = (
            "SASL without TLS: the broker login (username and password) is "
            "sent in the clear; pass SASLCredentials(..., ssl_context=...) to "
            "use SASL_SSL (this warning is shown once)"
        )
        return True


MIN_MASKED_LENGTH = 4

_redactor = _RedactSecrets()
_plaintext_warning = _WarnPlaintextOnce()
_redactor_lock = threading.Lock()


def protect_secret(password: str) -> None:
    """Keep ``password`` (and SASL login requests) out of aiokafka's log records.

    Also lets aiokafka's "password in the clear" warning through only once.
    Adds the filters to every ``aiokafka`` logger that exists (they are
    created when aiokafka is imported, which has happened by now).
    """
    with _redactor_lock:
        # A password of one to three characters would mask every such
        # substring of every record; its login request is masked anyway.
        if len(password) >= MIN_MASKED_LENGTH:
            _redactor.secrets.add(password)
        names = [
            name
            for name in list(logging.root.manager.loggerDict)
            if name == "aiokafka" or name.startswith("aiokafka.")
        ]
        for name in names:
            log = logging.getLogger(name)
            for log_filter in (_redactor, _plaintext_warning):
                if log_filter not in log.filters:
                    log.addFilter(log_filter)


def client_kwargs(
    bootstrap: str | Sequence[str], credentials: object | None = None
) -> dict[str, Any]:
    """The aiokafka client options for ``bootstrap`` and ``credentials``.

    Args:
        bootstrap: ``"host:port;host2:port2"`` (commas work too) or a list of
            servers; a server without a port gets 9092.
        credentials: None; or SASL credentials, an object with ``username``,
            ``password``, ``mechanism`` (``PLAIN``, ``SCRAM-SHA-256`` or
            ``SCRAM-SHA-512``; None means PLAIN) and ``ssl_context`` (None
            means SASL over plaintext); or SSL credentials, an object with an
            ``ssl.SSLContext`` as ``context``.

    Raises:
        ConfigurationError: for an empty server list, a credentials object of
            neither kind, a missing password or an unsupported mechanism.
    """
    kwargs: dict[str, Any] = {"bootstrap_servers": _servers(bootstrap)}
    if credentials is None:
        return kwargs

    if hasattr(credentials, "username"):
        password = getattr(credentials, "password", None)
        if not credentials.username or password is None:
            raise ConfigurationError(
                "SASL credentials need both a username and a password; "
                "pass SASLCredentials(username=..., password=...)"
            )
        ssl_context = getattr(credentials, "ssl_context", None)
        protect_secret(password)
        kwargs.update(
            security_protocol="SASL_PLAINTEXT" if ssl_context is None else "SASL_SSL",
            sasl_mechanism=_mechanism(credentials),
            sasl_plain_username=credentials.username,
            sasl_plain_password=password,
        )
        if ssl_context is not None:
            kwargs["ssl_context"] = ssl_context
        return kwargs

    if hasattr(credentials, "context"):
        kwargs.update(security_protocol="SSL", ssl_context=credentials.context)
        return kwargs

    raise ConfigurationError(
        f"credentials of type {type(credentials).__name__} are not supported; "
        "pass SASLCredentials(username=..., password=...) or "
        "SSLCredentials(context=...)"
    )


def _reason(exc: BaseException, kwargs: Mapping[str, Any]) -> str:
    text = str(exc)
    name = type(exc).__name__
    if name not in text:
        text = f"{name}: {text}" if text else name
    password = kwargs.get("sasl_plain_password")
    return text.replace(password, "***") if password else text


def translate_error(
    exc: BaseException, action: str, kwargs: Mapping[str, Any]
) -> TransportError:
    """The streamkit exception for an aiokafka failure while doing ``action``.

    A rejected login becomes :class:`AuthenticationError`, anything else
    :class:`TransportError`; neither message contains the password.
    """
    servers = ";".join(kwargs["bootstrap_servers"])
    reason = _reason(exc, kwargs)
    if isinstance(exc, _LOGIN_ERRORS):
        return AuthenticationError(
            f"the Kafka broker at {servers} rejected the SASL "
            f"{kwargs.get('sasl_mechanism')} login of user "
            f"{kwargs.get('sasl_plain_username')!r} ({reason}); check the "
            "username, password and mechanism of the credentials"
        )
    if isinstance(exc, KafkaConnectionError | asyncio.TimeoutError):
        return TransportError(
            f"cannot {action}: Kafka at {servers} does not answer ({reason}); "
            "check the broker URL and that the broker is running"
        )
    return TransportError(f"cannot {action} on Kafka at {servers}: {reason}")


@contextmanager
def broker_errors(action: str, kwargs: Mapping[str, Any]) -> Iterator[None]:
    """Raise aiokafka's failures while doing ``action`` as streamkit's.

    Raises:
        AuthenticationError: when the broker rejected the login.
        TransportError: for any other broker or connection failure.
    """
    try:
        yield
    except _LOGIN_ERRORS as exc:
        # Not chained: the cause carries the client's connection details.
        raise translate_error(exc, action, kwargs) from None
    except (KafkaError, asyncio.TimeoutError) as exc:
        raise translate_error(exc, action, kwargs) from exc
