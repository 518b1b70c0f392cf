"""SASL credentials end to end, against a broker that requires a login.

The broker is Tansu behind the suite's SASL gate (``tests/sasl_broker.py``):
a correct password processes messages with each mechanism, a wrong one fails
fast with :class:`streamkit.AuthenticationError`, and the password shows up in
no log line (DEBUG included), repr, banner, web view or exception message.

The first tests need no broker: they pin what aiokafka receives and logs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import ssl
import subprocess
import sys
import time
import traceback
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from behaviour.support import wait_for
from sasl_broker import SaslBroker, start_sasl_broker

from streamkit import (
    App,
    AuthenticationError,
    SASLCredentials,
    SSLCredentials,
    TransportError,
)
from streamkit.transport.kafka_connection import client_kwargs

USER = "alice"
# Characters that URL user-info must escape, and that repr() would escape.
PASSWORD = "pw-7c41e9:n@ver/logged'"
MECHANISMS = ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"]
FAIL_WITHIN = 20.0
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslBroker]:
    broker = start_sasl_broker(tmp_path_factory.mktemp("sasl"), {USER: PASSWORD})
    try:
        yield broker
    finally:
        broker.stop()


def password_forms() -> list[str]:
    """The password as it could leak: plain, URL-quoted, or inside a repr."""
    return [
        PASSWORD,
        quote(PASSWORD, safe=""),
        repr(PASSWORD)[1:-1],
        repr(PASSWORD.encode())[2:-1],
        "n@ver/logged",  # a distinctive part, should something split it
    ]


def assert_no_password(text: str, where: str) -> None:
    for form in password_forms():
        assert form not in text, f"the password ({form!r}) leaked into {where}"


@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("tls", [False, True], ids=["plaintext", "ssl"])
async def test_aiokafka_clients_accept_the_options_of_each_mechanism(mechanism, tls):
    context = ssl.create_default_context() if tls else None
    credentials = SASLCredentials(
        USER, PASSWORD, mechanism=mechanism, ssl_context=context
    )
    kwargs = client_kwargs("127.0.0.1:9", credentials)

    assert kwargs["security_protocol"] == ("SASL_SSL" if tls else "SASL_PLAINTEXT")
    assert (kwargs["sasl_mechanism"], kwargs["sasl_plain_username"]) == (
        mechanism,
        USER,
    )
    assert kwargs["sasl_plain_password"] == PASSWORD
    assert kwargs.get("ssl_context") is context
    # aiokafka checks the combination when a client is built.
    consumer = AIOKafkaConsumer(**kwargs)
    admin = AIOKafkaAdminClient(**kwargs)
    await consumer.stop()
    await admin.close()


async def test_aiokafka_ssl_only_options_are_accepted():
    context = ssl.create_default_context()
    kwargs = client_kwargs("127.0.0.1:9", SSLCredentials(context=context))

    assert kwargs == {
        "bootstrap_servers": ["127.0.0.1:9"],
        "security_protocol": "SSL",
        "ssl_context": context,
    }
    producer = AIOKafkaProducer(**kwargs)
    await producer.stop()


def test_aiokafka_debug_log_of_a_plain_login_is_masked(caplog):
    from aiokafka.protocol.admin import SaslAuthenticateRequest_v1

    client_kwargs("127.0.0.1:9", SASLCredentials(USER, PASSWORD))
    request = SaslAuthenticateRequest_v1(f"{USER}\0{USER}\0{PASSWORD}".encode())
    caplog.set_level(logging.DEBUG)

    logging.getLogger("aiokafka.conn").debug("Request %d: %s", 3, request)
    logging.getLogger("aiokafka.consumer.fetcher").warning("echo %s", PASSWORD)
    try:
        raise RuntimeError(f"failed with {PASSWORD}")
    except RuntimeError:
        logging.getLogger("aiokafka").exception("oops")

    text = caplog.text + "".join(str(r.exc_text) for r in caplog.records)
    assert "Request 3: SaslAuthenticateRequest(<redacted>)" in text
    assert "echo ***" in text and "failed with ***" in text
    assert_no_password(text, "aiokafka's log records")


def make_app(sasl_broker: SaslBroker, unique: str, **settings) -> App:
    options = {
        "broker": f"kafka://{sasl_broker.bootstrap}",
        "broker_credentials": SASLCredentials(USER, PASSWORD),
        "topic_partitions": 1,
        "broker_commit_interval": 0.2,
        "web_enabled": False,
        **settings,
    }
    return App(f"sasl-{unique}", **options)


async def process_three(app: App, unique: str) -> list[str]:
    """Start ``app``, send three values through an agent, stop; the values."""
    topic = app.topic(f"sasl-in-{unique}", value_type=str)
    seen: list[str] = []

    @app.agent(topic)
    async def collect(stream):
        async for value in stream:
            seen.append(value)

    await app.start()
    try:
        for value in ("a", "b", "c"):
            await topic.send(value=value)
        await wait_for(lambda: len(seen) >= 3, timeout=30, what="3 values")
    finally:
        await app.stop()
    return seen


@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", MECHANISMS)
async def test_correct_password_processes_messages(sasl_broker, unique, mechanism):
    app = make_app(
        sasl_broker,
        unique,
        broker_credentials=SASLCredentials(USER, PASSWORD, mechanism=mechanism),
    )

    assert await process_three(app, unique) == ["a", "b", "c"]


@pytest.mark.kafka
async def test_user_info_in_the_broker_url_logs_in(sasl_broker, unique):
    url = f"kafka://{USER}:{quote(PASSWORD, safe='')}@{sasl_broker.bootstrap}"
    app = make_app(sasl_broker, unique, broker=url, broker_credentials=None)

    assert app.conf.broker == f"kafka://{sasl_broker.bootstrap}"
    assert await process_three(app, unique) == ["a", "b", "c"]


@pytest.mark.kafka
@pytest.mark.parametrize("mechanism", MECHANISMS)
@pytest.mark.parametrize("user", [USER, "mallory"])
async def test_wrong_credentials_fail_fast_and_clearly(
    sasl_broker, unique, mechanism, user
):
    wrong = "not-the-password"
    app = make_app(
        sasl_broker,
        unique,
        broker_credentials=SASLCredentials(user, wrong, mechanism=mechanism),
    )
    started = time.monotonic()

    with pytest.raises(AuthenticationError) as failure:
        await asyncio.wait_for(app.start(), FAIL_WITHIN)

    assert time.monotonic() - started < FAIL_WITHIN
    message = str(failure.value)
    assert f"SASL {mechanism} login of user {user!r}" in message
    assert "check the username, password and mechanism" in message
    assert wrong not in message
    assert not app.is_running


@pytest.mark.kafka
async def test_no_secret_in_logs_reprs_or_errors(sasl_broker, unique, caplog, capsys):
    caplog.set_level(logging.DEBUG)  # every logger, aiokafka's requests included
    shown: dict[str, str] = {}

    # PLAIN: the mechanism whose login request carries the password itself.
    app = make_app(
        sasl_broker,
        unique,
        broker_credentials=SASLCredentials(USER, PASSWORD, mechanism="PLAIN"),
    )
    topic = app.topic(f"sasl-in-{unique}", value_type=str)
    seen: list[str] = []

    @app.agent(topic)
    async def collect(stream):
        async for value in stream:
            seen.append(value)

    await app.start()
    try:
        await topic.send(value="x")
        await wait_for(lambda: seen, timeout=30, what="the value")
        shown["repr(app)"] = repr(app)
        shown["repr(app.conf)"] = repr(app.conf)
        shown["str(app.conf)"] = str(app.conf)
        shown["app.conf.as_dict()"] = json.dumps(app.conf.as_dict(), default=str)
        shown["credentials"] = (
            f"{app.conf.broker_credentials!r} {app.conf.broker_credentials}"
        )
        shown["transport"] = (
            f"{app.transport!r} {app.producer!r} {app.conductor.consumer!r}"
        )
    finally:
        await app.stop()
    assert seen == ["x"]

    # A failing connect, with the password in the URL user-info this time.
    bad = App(
        f"sasl-bad-{unique}",
        broker=f"kafka://{USER}:{quote(PASSWORD, safe='')}@127.0.0.1:1",
        web_enabled=False,
    )
    shown["repr(bad)"] = repr(bad) + repr(bad.conf)
    with pytest.raises(TransportError) as unreachable:
        await asyncio.wait_for(bad.start(), FAIL_WITHIN)
    shown["unreachable"] = "".join(traceback.format_exception(unreachable.value))

    wrong = make_app(
        sasl_broker, f"{unique}-w", broker_credentials=SASLCredentials("x", PASSWORD)
    )
    with pytest.raises(AuthenticationError) as rejected:
        await asyncio.wait_for(wrong.start(), FAIL_WITHIN)
    shown["rejected"] = "".join(traceback.format_exception(rejected.value))

    captured = capsys.readouterr()
    shown["log records"] = caplog.text
    shown["stdout/stderr"] = captured.out + captured.err
    assert "SaslAuthenticate" in caplog.text, "aiokafka's DEBUG log was not captured"
    for where, text in shown.items():
        assert_no_password(text, where)


WORKER_MODULE = """
import streamkit

app = streamkit.App({app_id!r}, topic_partitions=1, debug=True)
words = app.topic({topic!r}, value_type=str)


@app.agent(words)
async def shout(stream):
    async for word in stream:
        print("GOT", word.upper(), flush=True)


@app.task
async def say_hello():
    await words.send(value="hello")
"""


@pytest.mark.kafka
def test_no_secret_in_the_worker_banner_logs_or_web_views(
    sasl_broker, unique, tmp_path
):
    module = f"secret_worker_{unique}"
    (tmp_path / f"{module}.py").write_text(
        WORKER_MODULE.format(app_id=f"sasl-worker-{unique}", topic=f"w-{unique}")
    )
    url = f"kafka://{USER}:{quote(PASSWORD, safe='')}@{sasl_broker.bootstrap}"
    log_path = tmp_path / "worker.log"
    command = [
        sys.executable,
        "-m",
        "streamkit",
        "-A",
        module,
        "worker",
        "-l",
        "debug",
        "--broker",
        url,
        "--web-port",
        "0",
    ]
    env = {
        "PYTHONPATH": f"{REPO}:{tmp_path}",
        "COLUMNS": "400",
        "PATH": "/usr/bin:/bin",
    }
    with log_path.open("wb") as log:
        worker = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline = time.monotonic() + 60
        while "GOT HELLO" not in log_path.read_text(errors="replace"):
            assert worker.poll() is None, log_path.read_text(errors="replace")
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.1)
        pages = read_pages(log_path.read_text(errors="replace"))
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(60)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)

    output = log_path.read_text(errors="replace")
    assert code == 0, output
    assert "SaslAuthenticate" in output, "the worker did not log at DEBUG"
    assert_no_password(output, "the worker's output")
    # aiokafka warns at every connection that a SASL_PLAINTEXT login is sent
    # in the clear; the worker's several clients and reconnects say it once.
    assert output.count("Sending username and password in the clear") == 0
    assert output.count("is sent in the clear") == 1, output
    for path, body in pages.items():
        assert_no_password(body, f"GET {path}")


def read_pages(log: str) -> dict[str, str]:
    """The web server's pages that describe the App, by path."""
    found = re.search(r"web server listening on (http://\S+?)/?\s", log)
    assert found, log
    pages = {}
    for path in ("/", "/stats/"):
        try:
            with urllib.request.urlopen(found.group(1) + path, timeout=10) as reply:
                pages[path] = reply.read().decode(errors="replace")
        except urllib.error.HTTPError as error:  # a 404 body is shown too
            pages[path] = error.read().decode(errors="replace")
    return pages
