"""App settings: defaults, validation, environment variables, secrets."""

from __future__ import annotations

import enum
import logging
from pathlib import Path

import pytest

from streamkit.credentials import SASLCredentials, SSLCredentials
from streamkit.exceptions import ConfigurationError
from streamkit.settings import Settings

PASSWORD = "hunter2-Sup3rS3cret"

OPTION_NAMES = [
    "broker",
    "broker_credentials",
    "datadir",
    "tabledir",
    "debug",
    "processing_guarantee",
    "stream_buffer_maxsize",
    "topic_partitions",
    "topic_replication_factor",
    "value_serializer",
    "key_serializer",
    "broker_commit_interval",
    "broker_max_poll_records",
    "producer_linger_ms",
    "web_enabled",
    "web_port",
    "web_bind",
    "web_host",
]


def make(app_id: str = "app", env: dict[str, str] | None = None, **options) -> Settings:
    return Settings(app_id, env=env or {}, **options)


class FaustGuarantee(enum.Enum):
    AT_LEAST_ONCE = "at_least_once"
    EXACTLY_ONCE = "exactly_once"


def test_defaults_follow_faust() -> None:
    settings = make("orders")

    assert settings.app_id == "orders"
    assert settings.broker == "memory://"
    assert settings.broker_credentials is None
    assert settings.datadir == Path("orders-data")
    assert settings.tabledir == Path("orders-data/tables")
    assert settings.debug is False
    assert settings.processing_guarantee == "at_least_once"
    assert settings.stream_buffer_maxsize == 4096
    assert settings.topic_partitions == 8
    assert settings.topic_replication_factor == 1
    assert settings.value_serializer == "json"
    assert settings.key_serializer == "json"
    assert settings.broker_commit_interval == 2.8
    assert settings.broker_max_poll_records == 1000
    assert settings.producer_linger_ms == 5


def test_relative_tabledir_lives_under_datadir() -> None:
    settings = make(datadir="/var/lib/app", tabledir="state")

    assert settings.tabledir == Path("/var/lib/app/state")

    settings.datadir = "/srv/app"
    assert settings.tabledir == Path("/srv/app/state")


def test_absolute_tabledir_stays_where_it_is() -> None:
    assert make(tabledir="/mnt/tables").tabledir == Path("/mnt/tables")


def test_misspelt_setting_suggests_the_right_one() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(borker="kafka://h:9092")

    message = str(info.value)
    assert "'borker'" in message
    assert "did you mean 'broker'?" in message
    assert ", ".join(OPTION_NAMES) in message


def test_unknown_setting_without_a_near_name_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(zzz=1)

    assert "did you mean" not in str(info.value)
    assert "valid settings: broker, broker_credentials" in str(info.value)


def test_misspelt_attribute_assignment_is_refused() -> None:
    settings = make()

    with pytest.raises(ConfigurationError, match="did you mean 'debug'"):
        settings.debgu = True  # type: ignore[attr-defined]
    assert not hasattr(settings, "debgu")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("stream_buffer_maxsize", "abc", "must be a positive int, got 'abc'"),
        ("stream_buffer_maxsize", 0, "must be a positive int, got 0"),
        ("stream_buffer_maxsize", True, "must be a positive int, got True"),
        ("stream_buffer_maxsize", 2.5, "must be a positive int, got 2.5"),
        ("topic_partitions", -1, "must be a positive int, got -1"),
        ("producer_linger_ms", -5, "must be an int >= 0, got -5"),
        ("broker_commit_interval", 0, "must be a positive number of seconds, got 0"),
        ("broker_commit_interval", "soon", "seconds, got 'soon'"),
        ("debug", "maybe", "must be true or false"),
        ("processing_guarantee", "twice", "'at_least_once', 'exactly_once'"),
        ("value_serializer", "avro", "'json', 'raw', 'str', got 'avro'"),
        ("datadir", "", "must be a directory path, got ''"),
        ("broker_credentials", ("u", PASSWORD), "got a tuple"),
    ],
)
def test_bad_value_names_setting_value_and_what_is_accepted(
    option: str, value: object, message: str
) -> None:
    with pytest.raises(ConfigurationError) as info:
        make(**{option: value})

    assert option in str(info.value)
    assert message in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("exactly_once", "exactly_once"),
        ("exactly-once", "exactly_once"),
        ("EXACTLY_ONCE", "exactly_once"),
        ("At-Least-Once", "at_least_once"),
        (FaustGuarantee.EXACTLY_ONCE, "exactly_once"),
    ],
)
def test_processing_guarantee_accepts_faust_spellings(
    given: object, stored: str
) -> None:
    assert make(processing_guarantee=given).processing_guarantee == stored


def test_invalid_app_id_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="got 'my app'"):
        make("my app")


def test_app_id_is_read_only() -> None:
    settings = make()

    with pytest.raises(AttributeError):
        settings.app_id = "other"  # type: ignore[misc]
    assert settings.app_id == "app"


def test_environment_overrides_the_constructor() -> None:
    settings = make(
        broker="memory://",
        stream_buffer_maxsize=10,
        env={
            "STREAMKIT_BROKER": "kafka://prod-kafka:9093",
            "STREAMKIT_STREAM_BUFFER_MAXSIZE": "100",
        },
    )

    assert settings.broker == "kafka://prod-kafka:9093"
    assert settings.stream_buffer_maxsize == 100


def test_environment_values_get_the_setting_type() -> None:
    settings = make(
        env={
            "STREAMKIT_DEBUG": "true",
            "STREAMKIT_BROKER_COMMIT_INTERVAL": "0.5",
            "STREAMKIT_DATADIR": "/data/app",
            "STREAMKIT_PROCESSING_GUARANTEE": "exactly-once",
            "STREAMKIT_TOPIC_PARTITIONS": " 3 ",
        }
    )

    assert settings.debug is True
    assert settings.broker_commit_interval == 0.5
    assert settings.datadir == Path("/data/app")
    assert settings.processing_guarantee == "exactly_once"
    assert settings.topic_partitions == 3


@pytest.mark.parametrize(
    ("text", "value"),
    [(t, True) for t in ("1", "true", "TRUE", "yes", "on")]
    + [(t, False) for t in ("0", "false", "No", "off")],
)
def test_environment_booleans(text: str, value: bool) -> None:
    assert make(debug=not value, env={"STREAMKIT_DEBUG": text}).debug is value


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(env={"STREAMKIT_STREAM_BUFFER_MAXSIZE": "lots"})

    assert "STREAMKIT_STREAM_BUFFER_MAXSIZE" in str(info.value)
    assert "got 'lots'" in str(info.value)


def test_unknown_environment_variable_warns_with_a_suggestion(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="streamkit.settings"):
        settings = make(env={"STREAMKIT_BORKER": "kafka://h:9092", "HOME": "/root"})

    assert settings.broker == "memory://"
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "STREAMKIT_BORKER" in record.getMessage()
    assert "did you mean STREAMKIT_BROKER?" in record.getMessage()


def test_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKIT_TOPIC_PARTITIONS", "3")

    assert Settings("app").topic_partitions == 3


def test_credentials_cannot_come_from_their_own_variable() -> None:
    with pytest.raises(ConfigurationError, match="STREAMKIT_BROKER=kafka://USER"):
        make(env={"STREAMKIT_BROKER_CREDENTIALS": "u:p"})


def test_assignment_validates_and_keeps_the_old_value_on_error() -> None:
    settings = make()

    settings.broker = "kafka://h1:9092"
    assert settings.broker == "kafka://h1:9092"

    with pytest.raises(ConfigurationError, match="must be a positive int, got 0"):
        settings.stream_buffer_maxsize = 0
    assert settings.stream_buffer_maxsize == 4096


def test_override_applies_several_settings() -> None:
    settings = make()

    settings.override(debug=True, topic_partitions=2, broker="kafka://h")

    assert (settings.debug, settings.topic_partitions) == (True, 2)
    assert settings.broker == "kafka://h:9092"


def test_override_changes_nothing_when_one_value_is_bad() -> None:
    settings = make()

    with pytest.raises(ConfigurationError, match="topic_partitions"):
        settings.override(debug=True, broker="kafka://h", topic_partitions=0)

    assert settings.debug is False
    assert settings.broker == "memory://"


def test_override_refuses_a_misspelt_name() -> None:
    with pytest.raises(ConfigurationError, match="did you mean 'topic_partitions'"):
        make().override(topic_partition=2)


def test_broker_user_info_becomes_credentials_and_leaves_the_url() -> None:
    settings = make(broker=f"kafka://alice:{PASSWORD}@h1:9092;h2:9092")

    assert settings.broker == "kafka://h1:9092;h2:9092"
    assert settings.broker_credentials == SASLCredentials("alice", PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.as_dict())
    assert "password='***'" in repr(settings)


def test_broker_user_info_from_environment_stays_secret() -> None:
    settings = make(env={"STREAMKIT_BROKER": f"kafka://bob:{PASSWORD}@h:9092"})

    assert settings.broker_credentials == SASLCredentials("bob", PASSWORD)
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in str(settings.as_dict())


def test_explicit_credentials_win_over_url_user_info(
    caplog: pytest.LogCaptureFixture,
) -> None:
    explicit = SASLCredentials("carol", "other", mechanism="SCRAM-SHA-256")

    with caplog.at_level(logging.WARNING, logger="streamkit.settings"):
        settings = make(
            broker=f"kafka://alice:{PASSWORD}@h:9092", broker_credentials=explicit
        )

    assert settings.broker_credentials is explicit
    assert settings.broker == "kafka://h:9092"
    assert "broker_credentials is set explicitly" in caplog.text
    assert PASSWORD not in caplog.text


def test_credentials_from_a_url_leave_with_it() -> None:
    settings = make(broker=f"kafka://alice:{PASSWORD}@h:9092")

    settings.broker = "kafka://elsewhere:9092"

    assert settings.broker_credentials is None


def test_credentials_set_later_are_kept_when_the_broker_changes() -> None:
    settings = make(broker=f"kafka://alice:{PASSWORD}@h:9092")
    ssl_credentials = SSLCredentials()

    settings.broker_credentials = ssl_credentials
    settings.broker = "kafka://elsewhere:9092"

    assert settings.broker_credentials is ssl_credentials


def test_bad_broker_scheme_lists_both_and_hides_the_password() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(broker=f"http://alice:{PASSWORD}@h:9092")

    message = str(info.value)
    assert "memory://" in message
    assert "kafka://" in message
    assert "'http://h:9092'" in message
    assert PASSWORD not in message


def test_user_info_after_the_first_host_is_refused_without_echoing_it() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(broker=f"kafka://h1:9092;kafka://alice:{PASSWORD}@h2:9092")

    assert "user-info after its first host" in str(info.value)
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize("char", ["/", "#", "?"])
def test_a_password_character_that_ends_the_hosts_asks_for_percent_encoding(
    char: str,
) -> None:
    password = PASSWORD[:6] + char + PASSWORD[6:]

    with pytest.raises(ConfigurationError) as info:
        make(broker=f"kafka://alice:{password}@h:9092")

    message = str(info.value)
    assert message == (
        "broker 'kafka://***@h:9092' has a character in its user-info that must "
        "be percent-encoded: write / as %2F, # as %23, ? as %3F and @ as %40"
    )
    assert PASSWORD[:6] not in message
    assert PASSWORD[6:] not in message


def test_a_percent_encoded_password_character_is_decoded() -> None:
    settings = make(broker="kafka://alice:pa%2Fss%23%3F@h:9092")

    assert settings.broker == "kafka://h:9092"
    assert settings.broker_credentials == SASLCredentials("alice", "pa/ss#?")


@pytest.mark.parametrize("separator", [";", ","])
def test_user_info_given_again_after_a_host_is_refused(separator: str) -> None:
    broker = f"kafka://alice:{PASSWORD}@h1:1{separator}bob:other-{PASSWORD}@h2:2"

    with pytest.raises(ConfigurationError) as info:
        make(broker=broker)

    message = str(info.value)
    assert message == (
        "broker 'kafka://***@h2:2' has user-info after its first host; user-info "
        "may come only once, before the first host: "
        "kafka://USER:PASSWORD@host1:9092;host2:9092"
    )
    assert PASSWORD not in message


def test_user_info_in_a_later_url_of_a_list_is_refused() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(broker=["kafka://h1:1", f"kafka://alice:{PASSWORD}@h2:2"])

    message = str(info.value)
    assert "['kafka://h1:1', 'kafka://***@h2:2'] has user-info after" in message
    assert PASSWORD not in message


def test_user_info_mistakes_in_the_environment_name_the_variable() -> None:
    with pytest.raises(ConfigurationError) as info:
        make(env={"STREAMKIT_BROKER": f"kafka://alice:{PASSWORD}/x@h:9092"})

    assert str(info.value).startswith(
        "environment variable STREAMKIT_BROKER: broker 'kafka://***@h:9092' has "
        "a character in its user-info that must be percent-encoded"
    )
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    ("broker", "bootstrap"),
    [
        ("kafka://localhost", ["localhost:9092"]),
        ("kafka://h1;h2:9093", ["h1:9092", "h2:9093"]),
        ("kafka://h1:9092,h2:9092/", ["h1:9092", "h2:9092"]),
        ("KAFKA://h1:1234;kafka://h2:5678", ["h1:1234", "h2:5678"]),
        (["kafka://a:1", "kafka://b:2"], ["a:1", "b:2"]),
        ("kafka://[::1]:9093;[fe80::1]", ["[::1]:9093", "[fe80::1]:9092"]),
        ("memory://", []),
    ],
)
def test_broker_bootstrap(broker: str | list[str], bootstrap: list[str]) -> None:
    assert make(broker=broker).broker_bootstrap == bootstrap


@pytest.mark.parametrize("broker", ["kafka://", "kafka://h:99999", "kafka://h:port"])
def test_bad_kafka_hosts_are_refused(broker: str) -> None:
    with pytest.raises(ConfigurationError, match="e.g. kafka://localhost:9092"):
        make(broker=broker)


def test_as_dict_shows_every_setting_for_display() -> None:
    shown = make("shop", debug=True).as_dict()

    assert list(shown) == ["app_id", *OPTION_NAMES]
    assert shown["app_id"] == "shop"
    assert shown["debug"] is True
    assert shown["tabledir"] == "shop-data/tables"


def test_repr_shows_the_changed_settings() -> None:
    assert (
        repr(make("shop", topic_partitions=3)) == "Settings('shop', topic_partitions=3)"
    )


def test_options_lists_names_defaults_docs_and_variables() -> None:
    options = {info.name: info for info in Settings.options()}

    assert list(options) == OPTION_NAMES
    assert options["stream_buffer_maxsize"].default == 4096
    assert options["broker"].default == "memory://"
    assert options["datadir"].default == "<app_id>-data"
    assert options["debug"].env_var == "STREAMKIT_DEBUG"
    assert all(info.doc.endswith(".") for info in options.values())
