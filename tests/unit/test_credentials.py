"""SASL and SSL credentials, and user-info in broker URLs."""

from __future__ import annotations

import enum
import ssl
import subprocess
from pathlib import Path

import pytest

from streamkit.credentials import (
    SASLCredentials,
    SSLCredentials,
    credentials_from_url,
)
from streamkit.exceptions import ConfigurationError

PASSWORD = "s3cr3t-Pa55w0rd"


class FaustStyleMechanism(enum.Enum):
    PLAIN = "PLAIN"
    SCRAM_SHA_256 = "SCRAM-SHA-256"


def test_sasl_repr_and_str_mask_the_password() -> None:
    credentials = SASLCredentials("alice", PASSWORD)

    assert PASSWORD not in repr(credentials)
    assert PASSWORD not in str(credentials)
    assert PASSWORD not in f"{credentials}"
    assert "password='***'" in repr(credentials)
    assert "username='alice'" in repr(credentials)


def test_sasl_keeps_what_the_transport_reads() -> None:
    context = ssl.create_default_context()
    credentials = SASLCredentials(
        "alice", PASSWORD, mechanism="SCRAM-SHA-512", ssl_context=context
    )

    assert credentials.username == "alice"
    assert credentials.password == PASSWORD
    assert credentials.mechanism == "SCRAM-SHA-512"
    assert credentials.ssl_context is context
    assert "ssl_context=<SSLContext>" in repr(credentials)


def test_sasl_defaults_to_plain_without_tls() -> None:
    credentials = SASLCredentials("alice", PASSWORD)

    assert credentials.mechanism == "PLAIN"
    assert credentials.ssl_context is None


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("plain", "PLAIN"),
        ("Plain", "PLAIN"),
        ("scram-sha-256", "SCRAM-SHA-256"),
        ("SCRAM_SHA_512", "SCRAM-SHA-512"),
        ("SASLMechanism.SCRAM_SHA_256", "SCRAM-SHA-256"),
        (FaustStyleMechanism.SCRAM_SHA_256, "SCRAM-SHA-256"),
        (FaustStyleMechanism.PLAIN, "PLAIN"),
    ],
)
def test_sasl_mechanism_accepts_faust_spellings(given: object, canonical: str) -> None:
    assert SASLCredentials("u", "p", mechanism=given).mechanism == canonical


@pytest.mark.parametrize("mechanism", ["GSSAPI", "OAUTHBEARER", "md5", 42])
def test_unsupported_sasl_mechanism_lists_the_valid_ones(mechanism: object) -> None:
    with pytest.raises(ConfigurationError) as info:
        SASLCredentials("u", "p", mechanism=mechanism)

    message = str(info.value)
    assert "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512" in message
    assert repr(mechanism) in message


def test_sasl_rejects_an_ssl_context_that_is_not_one() -> None:
    with pytest.raises(ConfigurationError, match="ssl_context must be an ssl"):
        SASLCredentials("u", "p", ssl_context=True)  # type: ignore[arg-type]


def test_sasl_rejects_an_empty_username() -> None:
    with pytest.raises(ConfigurationError, match="username must be a non-empty"):
        SASLCredentials("", PASSWORD)


def test_sasl_credentials_compare_by_value() -> None:
    assert SASLCredentials("u", "p") == SASLCredentials("u", "p")
    assert SASLCredentials("u", "p") != SASLCredentials("u", "q")
    assert SASLCredentials("u", "p") != SASLCredentials(
        "u", "p", mechanism="SCRAM-SHA-256"
    )


def test_ssl_credentials_build_a_verifying_context() -> None:
    credentials = SSLCredentials()

    assert isinstance(credentials.context, ssl.SSLContext)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED
    assert credentials.context.check_hostname is True


def test_ssl_credentials_use_a_given_context_as_is() -> None:
    context = ssl.create_default_context()

    assert SSLCredentials(context).context is context


def test_ssl_credentials_refuse_a_context_together_with_files() -> None:
    with pytest.raises(ConfigurationError, match="both a context and cafile"):
        SSLCredentials(ssl.create_default_context(), cafile="ca.pem")


def test_ssl_keyfile_needs_a_certfile() -> None:
    with pytest.raises(ConfigurationError, match="keyfile='key.pem' without certfile"):
        SSLCredentials(keyfile="key.pem")


def test_ssl_missing_cafile_is_named(tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-ca.pem")

    with pytest.raises(ConfigurationError) as info:
        SSLCredentials(cafile=missing)

    assert missing in str(info.value)


def test_ssl_credentials_load_a_client_certificate(tmp_path: Path) -> None:
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", "/CN=streamkit-test", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )

    credentials = SSLCredentials(cafile=str(cert), certfile=str(cert), keyfile=str(key))

    subjects = [c["subject"] for c in credentials.context.get_ca_certs()]
    assert ((("commonName", "streamkit-test"),),) in subjects
    assert "client.pem" in repr(credentials)


def test_url_user_info_becomes_credentials() -> None:
    url, credentials = credentials_from_url(f"kafka://alice:{PASSWORD}@broker:9092")

    assert url == "kafka://broker:9092"
    assert credentials == SASLCredentials("alice", PASSWORD)


def test_url_user_info_is_percent_decoded() -> None:
    url, credentials = credentials_from_url("kafka://us%40er:p%40ss%3Aw%2Frd@h:9092")

    assert url == "kafka://h:9092"
    assert credentials is not None
    assert credentials.username == "us@er"
    assert credentials.password == "p@ss:w/rd"


def test_url_with_several_hosts_keeps_them_all() -> None:
    url, credentials = credentials_from_url("kafka://u:p@h1:9092;h2:9093/")

    assert url == "kafka://h1:9092;h2:9093/"
    assert credentials == SASLCredentials("u", "p")


@pytest.mark.parametrize(
    "url", ["kafka://h:9092", "memory://", "memory://named", "localhost:9092"]
)
def test_url_without_user_info_is_unchanged(url: str) -> None:
    assert credentials_from_url(url) == (url, None)


def test_url_user_without_password_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        credentials_from_url("kafka://alice@h:9092")

    assert "'alice'" in str(info.value)
    assert "kafka://h:9092" in str(info.value)
