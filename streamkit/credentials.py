"""Broker credentials: SASL user and password, SSL contexts, URL user-info.

The password of a :class:`SASLCredentials` is kept out of every ``repr`` and
``str`` so that it cannot reach logs, banners or notebook output by accident.
"""

from __future__ import annotations

import logging
import re
import ssl
from urllib.parse import unquote

from streamkit.exceptions import ConfigurationError

logger = logging.getLogger(__name__)

#: The SASL mechanisms the Kafka transport can negotiate.
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")

_MASK = "***"


def _normalize_mechanism(mechanism: object) -> str:
    """Return the canonical name of a SASL mechanism.

    Accepts the names in any case, with ``_`` for ``-``, Faust's enum members
    (anything with a string ``value``) and their string form
    (``"SASLMechanism.SCRAM_SHA_256"``).

    Raises:
        ConfigurationError: the mechanism is not one of :data:`SASL_MECHANISMS`.
    """
    raw = getattr(mechanism, "value", mechanism)
    if not isinstance(raw, str):
        raise ConfigurationError(
            f"SASL mechanism must be one of {', '.join(SASL_MECHANISMS)}, "
            f"got {mechanism!r}"
        )

    name = raw.rpartition(".")[2].strip().upper().replace("_", "-")
    if name not in SASL_MECHANISMS:
        raise ConfigurationError(
            f"SASL mechanism must be one of {', '.join(SASL_MECHANISMS)}, "
            f"got {raw!r}; other mechanisms (GSSAPI, OAUTHBEARER) are not "
            "supported"
        )
    return name


class SASLCredentials:
    """A user name and password the broker checks with SASL.

    Without ``ssl_context`` the connection is SASL_PLAINTEXT, with one it is
    SASL_SSL.  The password is readable as ``.password`` (the transport needs
    it) but never shown by ``repr`` or ``str``.

    Args:
        username: the SASL user.
        password: the SASL password.
        mechanism: ``"PLAIN"``, ``"SCRAM-SHA-256"`` or ``"SCRAM-SHA-512"``, in
            any case; Faust's ``SASLMechanism`` members work too.
        ssl_context: encrypt the connection with this context.

    Raises:
        ConfigurationError: the mechanism is not supported, the user name is
            empty, or ``ssl_context`` is not an :class:`ssl.SSLContext`.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        mechanism: object = "PLAIN",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not isinstance(username, str) or not username:
            raise ConfigurationError(
                f"SASL username must be a non-empty string, got {username!r}"
            )
        if not isinstance(password, str):
            raise ConfigurationError(
                f"SASL password must be a string, got a {type(password).__name__}"
            )
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise ConfigurationError(
                "ssl_context must be an ssl.SSLContext or None, got "
                f"{ssl_context!r}; build one with ssl.create_default_context()"
            )

        self.username = username
        self.password = password
        self.mechanism = _normalize_mechanism(mechanism)
        self.ssl_context = ssl_context

    def __repr__(self) -> str:
        tls = "" if self.ssl_context is None else ", ssl_context=<SSLContext>"
        return (
            f"SASLCredentials(username={self.username!r}, password={_MASK!r}, "
            f"mechanism={self.mechanism!r}{tls})"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SASLCredentials):
            return NotImplemented
        return (
            self.username == other.username
            and self.password == other.password
            and self.mechanism == other.mechanism
            and self.ssl_context is other.ssl_context
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value


class SSLCredentials:
    """Encrypt (and optionally authenticate) the broker connection with TLS.

    Pass a ready ``context``, or let one be built from files: ``cafile``
    verifies the brokers' certificates (the system store when omitted), and
    ``certfile``/``keyfile`` present a client certificate.

    Args:
        context: the SSL context to use as is.
        cafile: PEM file of the certificate authorities to trust.
        certfile: PEM file of the client certificate (may hold the key too).
        keyfile: PEM file of the client key, when not in ``certfile``.

    Raises:
        ConfigurationError: ``context`` is combined with files, ``keyfile``
            is given without ``certfile``, or a file cannot be loaded.
    """

    def __init__(
        self,
        context: ssl.SSLContext | None = None,
        *,
        cafile: str | None = None,
        certfile: str | None = None,
        keyfile: str | None = None,
    ) -> None:
        files = {"cafile": cafile, "certfile": certfile, "keyfile": keyfile}
        given = [name for name, value in files.items() if value is not None]
        if context is not None and given:
            raise ConfigurationError(
                f"SSLCredentials got both a context and {', '.join(given)}; "
                "load the files into your context, or drop the context"
            )
        if context is not None and not isinstance(context, ssl.SSLContext):
            raise ConfigurationError(
                f"SSLCredentials context must be an ssl.SSLContext, got {context!r}"
            )
        if keyfile is not None and certfile is None:
            raise ConfigurationError(
                f"SSLCredentials got keyfile={keyfile!r} without certfile; "
                "pass the client certificate as certfile too"
            )

        self.cafile = cafile
        self.certfile = certfile
        self.keyfile = keyfile
        self.context = context if context is not None else self._build_context()

    def _build_context(self) -> ssl.SSLContext:
        try:
            context = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=self.cafile
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigurationError(
                f"cannot load SSL cafile {self.cafile!r}: {exc}"
            ) from exc

        if self.certfile is not None:
            try:
                context.load_cert_chain(self.certfile, self.keyfile)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"cannot load SSL certfile {self.certfile!r} "
                    f"(keyfile {self.keyfile!r}): {exc}"
                ) from exc
        return context

    def __repr__(self) -> str:
        files = {"cafile": self.cafile, "certfile": self.certfile}
        files["keyfile"] = self.keyfile
        shown = ", ".join(f"{k}={v!r}" for k, v in files.items() if v is not None)
        return f"SSLCredentials({shown or 'context=<SSLContext>'})"


def redact_url(url: str) -> str:
    """``url`` with its user-info replaced by ``***``, fit for logs and banners.

    ``kafka://user:pw@h:1`` becomes ``kafka://***@h:1``.  Everything up to the
    last ``@`` goes, so an unescaped ``@`` or ``/`` in a password cannot leak.
    """
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    return f"{scheme}{sep}***@{rest.rpartition('@')[2]}"


def credentials_from_url(
    url: str, *, name: str = "broker URL"
) -> tuple[str, SASLCredentials | None]:
    """Split the user-info out of a broker URL.

    ``kafka://user:pw@host:9092`` becomes ``("kafka://host:9092",
    SASLCredentials("user", "pw"))``; user and password are percent-decoded,
    so a password containing ``@`` or ``:`` is written ``%40`` or ``%3A``.  A
    URL without user-info comes back unchanged with ``None``.

    Args:
        url: a broker URL such as ``kafka://host:9092;host2:9092``.
        name: what the URL is, for messages (``broker``, the setting).

    Raises:
        ConfigurationError: the URL names a user but no password, gives
            user-info again after a host, or has a ``/``, ``?`` or ``#`` in
            its user-info; messages show the URL redacted.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url, None
    _check_user_info(name, url, rest)

    # The hosts end at the first "/", "?" or "#"; the user-info is everything
    # before the last "@" there, since a host name cannot contain one.
    cut = min((i for i in map(rest.find, "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:cut], rest[cut:]
    userinfo, at, hosts = netloc.rpartition("@")
    if not at:
        return url, None

    username, colon, password = userinfo.partition(":")
    clean = f"{scheme}://{hosts}{tail}"
    if not colon:
        raise ConfigurationError(
            f"{name} {clean!r} names user {unquote(username)!r} but no "
            "password; write scheme://USER:PASSWORD@host or pass "
            "broker_credentials=SASLCredentials(...)"
        )
    return clean, SASLCredentials(unquote(username), unquote(password))


def _check_user_info(name: str, url: str, rest: str) -> None:
    # Refuse user-info that would be split from the hosts in the wrong place:
    # all before the last "@" may be a password, so messages show the URL
    # redacted.
    first, last = rest.find("@"), rest.rfind("@")
    if first < 0:
        return
    shown = redact_url(url)
    # A second URL (h1;kafka://u:p@h2), or "@" then a host separator then
    # "@" (u:p@h1;u2:p2@h2): more user-info after a host.
    if "://" in rest[:last] or re.search(r"[;,]", rest[first:last]):
        raise user_info_after_a_host(name, shown)
    if re.search(r"[/?#]", rest[:last]):
        raise ConfigurationError(
            f"{name} {shown!r} has a character in its user-info that must be "
            "percent-encoded: write / as %2F, # as %23, ? as %3F and @ as %40"
        )


def user_info_after_a_host(name: str, shown: object) -> ConfigurationError:
    """The error for user-info given again after a broker URL's first host."""
    return ConfigurationError(
        f"{name} {shown!r} has user-info after its first host; user-info may "
        "come only once, before the first host: "
        "kafka://USER:PASSWORD@host1:9092;host2:9092"
    )
