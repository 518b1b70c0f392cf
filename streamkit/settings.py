"""Typed App settings: defaults, validation, environment variables.

Each setting is one :class:`~streamkit.options.Option` line in
:class:`Settings`, so ``settings.broker`` is a real, typed attribute, and
assigning to it validates the value.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, overload

from streamkit.codecs import check_serializer
from streamkit.credentials import (
    SASLCredentials,
    SSLCredentials,
    credentials_from_url,
    redact_url,
    user_info_after_a_host,
)
from streamkit.exceptions import ConfigurationError
from streamkit.options import (
    ENV_PREFIX,
    DerivedDefault,
    Option,
    OptionInfo,
    boolean,
    directory,
    int_at_least,
    positive_seconds,
)

logger = logging.getLogger(__name__)

#: ``STREAMKIT_*`` variables that tools read and that are not settings, so
#: they are not reported as misspelt settings.
ENV_NOT_SETTINGS = frozenset({"STREAMKIT_APP"})
#: Variables of the test suite (STREAMKIT_TEST_BOOTSTRAP...), not settings.
ENV_TEST_PREFIX = "STREAMKIT_TEST_"

BROKER_SCHEMES = ("memory", "kafka")
DEFAULT_KAFKA_PORT = 9092
PROCESSING_GUARANTEES = ("at_least_once", "exactly_once")

Credentials = SASLCredentials | SSLCredentials | None


class _BrokerOption(Option[str]):
    """The broker URL; user-info in it moves to ``broker_credentials``."""

    def __init__(self, default: str, doc: str) -> None:
        super().__init__(default, lambda name, v: _broker_url(name, v)[0], doc)

    def __set__(self, obj: Settings, value: Any) -> None:
        url, credentials = _broker_url(self.name, value)
        obj.__dict__[self.name] = url

        # Credentials set explicitly win over the URL's; credentials taken
        # from an earlier URL belong to that URL and leave with it.
        if credentials is not None:
            if obj._credentials_from_url or obj.broker_credentials is None:
                obj.__dict__["broker_credentials"] = credentials
                obj._credentials_from_url = True
            else:
                logger.warning(
                    "The user and password in the broker URL are ignored: "
                    "broker_credentials is set explicitly"
                )
        elif obj._credentials_from_url:
            obj.__dict__["broker_credentials"] = None
            obj._credentials_from_url = False


class _TabledirOption(Option[Path]):
    """A relative table directory lives under ``datadir``, as in Faust."""

    @overload
    def __get__(self, obj: None, owner: type) -> Option[Path]: ...

    @overload
    def __get__(self, obj: Settings, owner: type) -> Path: ...

    def __get__(self, obj: Settings | None, owner: type) -> Option[Path] | Path:
        if obj is None:
            return self
        path: Path = obj.__dict__[self.name]
        return path if path.is_absolute() else obj.datadir / path


def _guarantee(name: str, value: Any) -> str:
    # Faust's ProcessingGuarantee enum members carry the name in ``value``.
    raw = getattr(value, "value", value)
    text = raw.strip().lower().replace("-", "_") if isinstance(raw, str) else raw
    if text not in PROCESSING_GUARANTEES:
        raise ConfigurationError(
            f"{name} must be one of {', '.join(map(repr, PROCESSING_GUARANTEES))}, "
            f"got {value!r}"
        )
    return str(text)


def _serializer(name: str, value: Any) -> str:
    return check_serializer(value, name)


def _credentials(name: str, value: Any) -> Credentials:
    if value is None or isinstance(value, (SASLCredentials, SSLCredentials)):
        return value
    # Only the type is named: the value may hold a password.
    raise ConfigurationError(
        f"{name} must be SASLCredentials, SSLCredentials or None, got a "
        f"{type(value).__name__}; e.g. SASLCredentials(username='u', password='p')"
    )


def _split_hosts(name: str, url: str, hosts: str) -> list[str]:
    """``host:port`` per broker of a kafka URL, with the default port added."""
    found = []
    for host in re.split(r"[;,]", hosts):
        host = host.strip().removeprefix("kafka://").rstrip("/")
        if not host:
            continue
        bracket = host.rfind("]")
        head, colon, port = host.rpartition(":")
        if not colon or head.endswith(":") or bracket > len(head):
            head, port = host, str(DEFAULT_KAFKA_PORT)
        if not head or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigurationError(
                f"{name} {url!r} has a bad host {host!r}; write host:port, "
                "e.g. kafka://localhost:9092"
            )
        found.append(f"{head}:{int(port)}")
    if not found:
        raise ConfigurationError(
            f"{name} {url!r} names no host; e.g. kafka://localhost:9092"
        )
    return found


def _broker_url(name: str, value: Any) -> tuple[str, SASLCredentials | None]:
    """Validate a broker URL; return it without user-info, and the user-info."""
    if isinstance(value, (list, tuple)) and value:
        first, *others = (str(url) for url in value)
        if any("@" in url for url in others):
            # Joined, it would read as part of the first URL's password.
            raise user_info_after_a_host(name, [redact_url(str(u)) for u in value])
        value = ";".join([first, *(url.partition("://")[2] or url for url in others)])
    if not isinstance(value, str):
        raise ConfigurationError(
            f"{name} must be a URL such as 'kafka://localhost:9092' or "
            f"'memory://', got {value!r}"
        )

    url, credentials = credentials_from_url(value.strip(), name=name)
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower()
    if not sep or scheme not in BROKER_SCHEMES:
        raise ConfigurationError(
            f"{name} must start with memory:// or kafka://, got {url!r}; e.g. "
            "'kafka://localhost:9092' or 'memory://' (the embedded broker)"
        )

    if scheme == "kafka":
        return "kafka://" + ";".join(_split_hosts(name, url, rest)), credentials
    return f"{scheme}://{rest}", credentials


def _web_port(name: str, value: Any) -> int:
    port = int_at_least(0, "a TCP port between 0 and 65535")(name, value)
    if port > 65535:
        raise ConfigurationError(
            f"{name} must be a TCP port between 0 and 65535, got {value!r}"
        )
    return port


def _optional_hostname(name: str, value: Any) -> str:
    if isinstance(value, str) and not any(c.isspace() or c == "/" for c in value):
        return value
    raise ConfigurationError(
        f"{name} must be a host name or IP address such as '127.0.0.1', got {value!r}"
    )


def _hostname(name: str, value: Any) -> str:
    host = _optional_hostname(name, value.strip() if isinstance(value, str) else value)
    if not host:
        raise ConfigurationError(
            f"{name} must be a host name or IP address such as '127.0.0.1', "
            "got an empty string"
        )
    return host


_APP_ID = re.compile(r"[A-Za-z0-9._-]+")
_POSITIVE_INT = int_at_least(1, "a positive int")


class Settings:
    """The settings of one App.

    Values come, from lowest to highest precedence, from the defaults, the
    constructor's keyword arguments, environment variables and assignments
    after construction (``settings.broker = ...``, as the CLI's ``--broker``
    does).  Environment variables ``STREAMKIT_<SETTING>`` (for example
    ``STREAMKIT_BROKER=kafka://host:9092`` or ``STREAMKIT_DEBUG=true``)
    deliberately beat the code: deployment configuration is the deployer's
    call, so a module exported from a notebook that hard-codes
    ``broker="memory://"`` can still be pointed at Kafka.

    A broker URL with user-info (``kafka://user:pw@host``) is stored without
    it, and the user and password become ``broker_credentials`` unless those
    are set explicitly.  Neither ``repr`` nor :meth:`as_dict` shows a password.

    Args:
        app_id: the App's id, also its Kafka consumer group.
        env: the environment to read; ``os.environ`` when None.
        **options: settings by name; see :meth:`options`.

    Raises:
        ConfigurationError: an unknown setting (with a did-you-mean), a value
            the setting does not accept, or a bad environment variable.
    """

    broker = _BrokerOption(
        "memory://",
        "Broker URL: memory:// (embedded, one process) or "
        "kafka://host:port[;host:port]; user:password@ moves to credentials.",
    )
    broker_credentials = Option[Credentials](
        None,
        _credentials,
        "SASLCredentials or SSLCredentials for the Kafka connection.",
        env=False,
    )
    datadir = Option(
        DerivedDefault("<app_id>-data", lambda s: Path(f"{s.app_id}-data")),
        directory,
        "Directory for this instance's data, such as local table stores.",
    )
    tabledir = _TabledirOption(
        Path("tables"), directory, "Directory of local table data; relative to datadir."
    )
    debug = Option(False, boolean, "Expose sensor information for development.")
    processing_guarantee = Option(
        "at_least_once", _guarantee, "'at_least_once' or 'exactly_once'."
    )
    stream_buffer_maxsize = Option(
        4096, _POSITIVE_INT, "Unprocessed events a stream holds before pausing."
    )
    topic_partitions = Option(8, _POSITIVE_INT, "Partitions of topics we create.")
    topic_replication_factor = Option(1, _POSITIVE_INT, "Replicas of topics we create.")
    value_serializer = Option(
        "json", _serializer, "Default value serializer: json, raw or str."
    )
    key_serializer = Option(
        "json", _serializer, "Default key serializer: json, raw or str."
    )
    broker_commit_interval = Option(
        2.8, positive_seconds, "Seconds between offset commits."
    )
    broker_max_poll_records = Option(
        1000, _POSITIVE_INT, "Most records one fetch returns."
    )
    producer_linger_ms = Option(
        5,
        int_at_least(0, "an int >= 0"),
        "Milliseconds the producer waits to batch records.",
    )
    web_enabled = Option(
        True, boolean, "Serve @app.page views (and debug stats) over HTTP."
    )
    web_port = Option(6066, _web_port, "Port of the web server; 0 picks a free port.")
    # Not Faust's 0.0.0.0: table views show application state and debug=True
    # shows internals, so reaching them from the network must be a choice.
    web_bind = Option(
        "127.0.0.1",
        _hostname,
        "Address the web server listens on; 0.0.0.0 to accept remote clients.",
    )
    web_host = Option(
        "",
        _optional_hostname,
        "Host name in the URLs the web server reports; empty: the bind address.",
    )

    def __init__(
        self,
        app_id: str,
        *,
        env: Mapping[str, str] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(app_id, str) or not _APP_ID.fullmatch(app_id):
            raise ConfigurationError(
                "app id must be letters, digits, '.', '_' or '-' (it names "
                f"Kafka topics and the consumer group), got {app_id!r}"
            )
        self._check_names(options)
        self._app_id = app_id
        self._credentials_from_url = False

        declared = self._declared()
        for option in declared.values():
            self.__dict__[option.name] = option.default_for(self)

        from_env = self._read_environment(os.environ if env is None else env)
        for name in self._apply_order({**options, **from_env}):
            if name not in from_env:
                setattr(self, name, options[name])
                continue
            var = declared[name].env_var
            if name in options:
                logger.info("%s overrides the %s passed in code", var, name)
            try:
                setattr(self, name, from_env[name])
            except ConfigurationError as exc:
                raise ConfigurationError(f"environment variable {var}: {exc}") from None

    @classmethod
    def _declared(cls) -> dict[str, Option[Any]]:
        found: dict[str, Option[Any]] = {}
        for klass in reversed(cls.__mro__):
            for name, attr in vars(klass).items():
                if isinstance(attr, Option):
                    found[name] = attr
        return found

    @staticmethod
    def _apply_order(names: Mapping[str, Any]) -> list[str]:
        # broker last: whether its user-info becomes broker_credentials depends
        # on whether those were given explicitly.
        return sorted(names, key=lambda name: name == "broker")

    def _check_names(self, names: Mapping[str, Any]) -> None:
        valid = list(self._declared())
        for name in names:
            if name not in valid:
                close = difflib.get_close_matches(name, valid, 1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ConfigurationError(
                    f"unknown setting {name!r}{hint}; valid settings: "
                    f"{', '.join(valid)}"
                )

    def _read_environment(self, env: Mapping[str, str]) -> dict[str, str]:
        declared = self._declared()
        found = {}
        for var, raw in env.items():
            if (
                not var.startswith(ENV_PREFIX)
                or var in ENV_NOT_SETTINGS
                or var.startswith(ENV_TEST_PREFIX)
            ):
                continue
            name = var[len(ENV_PREFIX) :].lower()
            option = declared.get(name)
            if option is None:
                close = difflib.get_close_matches(name, declared, 1)
                hint = (
                    f" (did you mean {ENV_PREFIX}{close[0].upper()}?)" if close else ""
                )
                logger.warning("Ignoring %s: there is no setting %r%s", var, name, hint)
            elif not option.env:
                raise ConfigurationError(
                    f"{var} cannot set {name}; put the user and password in "
                    f"{ENV_PREFIX}BROKER=kafka://USER:PASSWORD@host:9092 instead"
                )
            else:
                found[name] = raw
        return found

    def __setattr__(self, name: str, value: Any) -> None:
        if not name.startswith("_") and not hasattr(type(self), name):
            self._check_names({name: value})
        object.__setattr__(self, name, value)
        if name == "broker_credentials":
            self._credentials_from_url = False

    @property
    def app_id(self) -> str:
        """The App's id (read-only)."""
        return self._app_id

    @property
    def broker_bootstrap(self) -> list[str]:
        """``host:port`` of each Kafka broker; empty for ``memory://``."""
        scheme, _, hosts = self.broker.partition("://")
        return _split_hosts("broker", self.broker, hosts) if scheme == "kafka" else []

    def override(self, **options: Any) -> None:
        """Change several settings at once; all of them or, on error, none.

        Raises:
            ConfigurationError: an unknown setting or a bad value; no setting
                is changed then.
        """
        self._check_names(options)
        saved = dict(self.__dict__)
        try:
            for name in self._apply_order(options):
                setattr(self, name, options[name])
        except ConfigurationError:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def as_dict(self) -> dict[str, Any]:
        """Every setting for display: paths as text, credentials masked."""
        shown: dict[str, Any] = {"app_id": self.app_id}
        for name in self._declared():
            value = getattr(self, name)
            if isinstance(value, (Path, SASLCredentials, SSLCredentials)):
                value = str(value)
            shown[name] = value
        return shown

    @classmethod
    def options(cls) -> list[OptionInfo]:
        """Each setting with its default, one-line doc and environment variable."""
        return [
            OptionInfo(
                name,
                o.default.shown if isinstance(o.default, DerivedDefault) else o.default,
                o.doc,
                o.env_var,
            )
            for name, o in cls._declared().items()
        ]

    def __repr__(self) -> str:
        changed = [
            f"{name}={getattr(self, name)!r}"
            for name, option in self._declared().items()
            if self.__dict__[name] != option.default_for(self)
        ]
        return f"Settings({', '.join([repr(self.app_id), *changed])})"
