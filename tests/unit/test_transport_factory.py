"""Broker URLs, credentials and the errors that must never show a password."""

from __future__ import annotations

import enum
import ssl
from dataclasses import dataclass

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed

from streamkit.exceptions import AuthenticationError, ConfigurationError, TransportError
from streamkit.transport import MemoryTransport, create_transport, redact_url
from streamkit.transport.kafka import KafkaTransport, client_kwargs
from streamkit.transport.kafka_connection import translate_error
from streamkit.transport.memory_broker import discard_broker


@dataclass
class SASL:
    username: str
    password: str
    mechanism: object = None
    ssl_context: ssl.SSLContext | None = None


@dataclass
class SSL:
    context: ssl.SSLContext


class Mechanism(enum.Enum):
    SCRAM_SHA_512 = "SCRAM-SHA-512"


def test_memory_urls_name_broker_instances() -> None:
    default = create_transport("memory://")
    assert isinstance(default, MemoryTransport)
    assert default.broker is create_transport("memory://").broker
    assert create_transport("memory://a").broker.name == "a"
    assert create_transport("memory://a").broker is not default.broker
    discard_broker("a")


def test_an_unknown_scheme_names_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as caught:
        create_transport("redis://localhost:6379")
    message = str(caught.value)
    assert "'redis'" in message
    assert "memory://" in message and "kafka://" in message


def test_kafka_urls_list_their_servers() -> None:
    transport = create_transport("kafka://h1:9093;h2,kafka://h3:1", client_id="x")
    assert isinstance(transport, KafkaTransport)
    assert transport.servers == ["h1:9093", "h2:9092", "h3:1"]
    assert transport.client_id == "x"


def test_user_info_becomes_sasl_plain_and_never_shows() -> None:
    transport = create_transport("kafka://alice:p%40ss@broker:9092")
    assert transport.kwargs["sasl_plain_username"] == "alice"
    assert transport.kwargs["sasl_plain_password"] == "p@ss"
    assert transport.kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert "p@ss" not in repr(transport) and "alice" not in repr(transport)


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "kafka://alice:s3cr3t@h1:1;bob:s3cr3t2@h2:2",
            "user-info after its first host",
        ),
        ("kafka://alice:s3/cr3t@h:9092", "must be percent-encoded"),
    ],
)
def test_transports_refuse_misplaced_user_info_as_settings_do(url, said) -> None:
    # create_transport reads user-info with the settings' parser, checks included.
    with pytest.raises(ConfigurationError, match=said) as info:
        create_transport(url)

    assert "s3cr3t" not in str(info.value) and "s3" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("kafka://user:pw@h:1", "kafka://***@h:1"),
        ("kafka://h:1;h2:2", "kafka://h:1;h2:2"),
        ("kafka://u:p@ss/w@h:1", "kafka://***@h:1"),
        ("memory://", "memory://"),
    ],
)
def test_redact_url_hides_user_info(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_client_kwargs_without_credentials_is_plaintext() -> None:
    assert client_kwargs("a:1;b:2") == {"bootstrap_servers": ["a:1", "b:2"]}


def test_client_kwargs_maps_sasl_credentials() -> None:
    context = ssl.create_default_context()
    plain = client_kwargs(["a:1"], SASL("u", "pw"))
    scram = client_kwargs("a:1", SASL("u", "pw", Mechanism.SCRAM_SHA_512, context))

    assert plain == {
        "bootstrap_servers": ["a:1"],
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": "u",
        "sasl_plain_password": "pw",
    }
    assert scram["security_protocol"] == "SASL_SSL"
    assert scram["sasl_mechanism"] == "SCRAM-SHA-512"
    assert scram["ssl_context"] is context


def test_client_kwargs_maps_ssl_credentials() -> None:
    context = ssl.create_default_context()
    assert client_kwargs("a:1", SSL(context)) == {
        "bootstrap_servers": ["a:1"],
        "security_protocol": "SSL",
        "ssl_context": context,
    }


@pytest.mark.parametrize(
    ("credentials", "message"),
    [
        (SASL("u", "pw", "GSSAPI"), "mechanism 'GSSAPI' is not supported"),
        (SASL("", "pw"), "need both a username and a password"),
        ("user:pw", "credentials of type str are not supported"),
    ],
)
def test_client_kwargs_rejects_unusable_credentials(
    credentials: object, message: str
) -> None:
    with pytest.raises(ConfigurationError, match=message):
        client_kwargs("a:1", credentials)


def test_client_kwargs_needs_a_server() -> None:
    with pytest.raises(ConfigurationError, match="no Kafka server in ''"):
        client_kwargs("")


def test_a_rejected_login_is_an_authentication_error_without_the_password() -> None:
    kwargs = client_kwargs("h:1", SASL("alice", "hunter2"))
    # What a broker may echo back; the password must not survive.
    exc = SaslAuthenticationFailed("bad password hunter2 for alice")

    error = translate_error(exc, "connect", kwargs)

    assert isinstance(error, AuthenticationError)
    assert "alice" in str(error) and "h:1" in str(error)
    assert "hunter2" not in str(error)


def test_an_unreachable_broker_is_a_transport_error() -> None:
    kwargs = client_kwargs("h:1")
    error = translate_error(KafkaConnectionError("refused"), "connect", kwargs)
    assert type(error) is TransportError
    assert "Kafka at h:1 does not answer" in str(error)


async def test_starting_against_a_closed_port_fails_fast_and_clearly() -> None:
    transport = create_transport("kafka://127.0.0.1:1")
    with pytest.raises(TransportError, match="127.0.0.1:1 does not answer"):
        await transport.start()


def test_client_kwargs_accepts_the_public_credentials_classes() -> None:
    from streamkit import SASLCredentials, SSLCredentials

    context = ssl.create_default_context()
    sasl = client_kwargs("a:1", SASLCredentials("u", "pw", mechanism="scram-sha-256"))
    tls = client_kwargs("a:1", SSLCredentials(context=context))

    assert sasl["sasl_mechanism"] == "SCRAM-SHA-256"
    assert sasl["security_protocol"] == "SASL_PLAINTEXT"
    assert (tls["security_protocol"], tls["ssl_context"]) == ("SSL", context)
