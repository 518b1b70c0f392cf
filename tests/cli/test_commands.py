"""The ``streamkit`` commands as a user runs them: real processes, real broker.

Each test writes a module into ``tmp_path`` and runs ``python -m streamkit
-A module ...`` (or ``python module.py ...``) in that directory.  What the
commands print with ``--json`` is compared with what the module defines, and
what ``send`` writes is read back from the broker with aiokafka itself.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from .conftest import STREAMKIT, worker_env

PASSWORD = "pw-7d41aa-never-printed"

MODULE = '''
"""A module with the seed's samples and a few more definitions."""

import streamkit as faust
from streamkit.cli import option

app = faust.App({app_id!r}, broker="memory://")
orders = app.topic("orders", value_type=dict, partitions=4)
counts = app.Table("counts", default=int, partitions=4, help="Orders per customer.")


@app.agent()
async def myagent(stream):
    """Example agent."""
    async for value in stream:
        print(f'MYAGENT RECEIVED -- {{value!r}}')
        yield value


@app.agent(orders)
async def count_orders(stream):
    """Count the orders of each customer."""
    async for order in stream:
        counts[order["customer"]] += 1


@app.command()
async def example():
    """This docstring is used as the command help in --help."""
    print('RUNNING EXAMPLE COMMAND')


@app.command(
    faust.cli.option("--count", type=int, default=1, help="How many times."),
    faust.cli.argument("name"),
)
def greet_people(name, count):
    """Greet NAME, COUNT times."""
    for _ in range(count):
        print(f"hello {{name}}")


@app.command(option("--times", type=int, default=2))
async def faust_style(self, times):
    """A Faust-style command that takes self."""
    self.say(f"{{self.app.id}} x{{times}}")


@app.command()
async def send_unstarted():
    """Send without starting the App first."""
    await orders.send(value={{"customer": "x"}})


if __name__ == "__main__":
    app.main()
'''


def write_module(directory: Path, app_id: str) -> str:
    name = f"cli_{app_id.replace('-', '_')}"
    (directory / f"{name}.py").write_text(MODULE.format(app_id=app_id))
    return name


def run(directory: Path, *args: str, env: dict | None = None):
    """Run ``args`` (after ``python``) in ``directory``; no STREAMKIT_* leaks in."""
    return subprocess.run(
        [sys.executable, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**worker_env(), **(env or {})},
        cwd=directory,
    )


def streamkit(directory: Path, *args: str, env: dict | None = None):
    return run(directory, *STREAMKIT[1:], *args, env=env)


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def failed(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    return result.stderr


@pytest.fixture
def module(tmp_path: Path, unique: str) -> str:
    return write_module(tmp_path, f"cmd-{unique}")


def load(directory: Path, name: str):
    """Import the test module in this process (for its App and definitions)."""
    sys.path.insert(0, str(directory))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))


async def read_topic(bootstrap: str, topic: str) -> list[tuple[int, int, bytes, bytes]]:
    """Every record of ``topic`` as (partition, offset, key, value), via aiokafka."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata of every topic
        partitions = [
            TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic)
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records = []
        for tp in partitions:
            while await consumer.position(tp) < ends[tp]:
                fetched = await consumer.getmany(tp, timeout_ms=1000)
                for batch in fetched.values():
                    records += [(m.partition, m.offset, m.key, m.value) for m in batch]
        return sorted(records)
    finally:
        await consumer.stop()


# -- @app.command() ---------------------------------------------------------


def test_seed_command_is_listed_in_help_with_its_docstring(tmp_path, module):
    out = ok(streamkit(tmp_path, "-A", module, "--help"))

    assert "example" in out
    assert "This docstring is used as the command help in --help." in out
    assert "greet-people" in out  # underscores become dashes, as in Faust
    for builtin in ("worker", "send", "agents", "tables", "topics", "reset", "export"):
        assert builtin in out

    # -A after --help, and the App named by STREAMKIT_APP, list it too.
    assert "example" in ok(streamkit(tmp_path, "--help", "-A", module))
    assert "example" in ok(streamkit(tmp_path, "--help", env={"STREAMKIT_APP": module}))


def test_seed_command_runs_through_streamkit_and_through_app_main(tmp_path, module):
    via_cli = ok(streamkit(tmp_path, "-A", module, "example"))
    via_main = ok(run(tmp_path, f"{module}.py", "example"))

    assert via_cli.strip() == "RUNNING EXAMPLE COMMAND"
    assert via_main.strip() == "RUNNING EXAMPLE COMMAND"
    assert "example" in ok(run(tmp_path, f"{module}.py", "--help"))


def test_command_options_and_arguments_reach_the_function(tmp_path, module):
    out = ok(streamkit(tmp_path, "-A", module, "greet-people", "--count", "3", "ada"))
    assert out.splitlines() == ["hello ada"] * 3

    assert ok(run(tmp_path, f"{module}.py", "greet-people", "bo")) == "hello bo\n"

    out = ok(streamkit(tmp_path, "-A", module, "faust-style", "--times", "5"))
    assert out.strip().endswith(" x5")

    help_text = ok(streamkit(tmp_path, "-A", module, "greet-people", "--help"))
    assert "Greet NAME, COUNT times." in help_text
    assert "--count" in help_text and "How many times." in help_text


def test_command_errors_are_messages_not_tracebacks(tmp_path, module):
    err = failed(streamkit(tmp_path, "-A", module, "greet-people"))
    assert "Missing argument 'NAME'" in err

    err = failed(streamkit(tmp_path, "-A", module, "send-unstarted"))
    assert "is not running" in err  # the App is not started for a command

    err = failed(streamkit(tmp_path, "-A", module, "exampel"))
    assert "No such command 'exampel'" in err and "example" in err

    err = failed(streamkit(tmp_path, "example"))
    assert "-A MODULE" in err

    err = failed(streamkit(tmp_path, "-A", "no_such_module", "--help"))
    assert "no module named 'no_such_module'" in err

    (tmp_path / "clash.py").write_text(
        "import streamkit\napp = streamkit.App('clash')\n"
        "@app.command()\ndef worker():\n    pass\n"
    )
    err = failed(streamkit(tmp_path, "-A", "clash", "agents"))
    assert "'worker' is a built-in streamkit command" in err


# -- agents, tables, topics, reset -------------------------------------------


def test_agents_json_describes_the_modules_agents(tmp_path, module):
    shown = json.loads(ok(streamkit(tmp_path, "-A", module, "agents", "--json")))
    app = load(tmp_path, module).app

    assert shown == [
        {
            "name": "count_orders",
            "topic": "orders",
            "concurrency": 1,
            "help": "Count the orders of each customer.",
        },
        {
            "name": "myagent",
            "topic": f"{app.id}-myagent",
            "concurrency": 1,
            "help": "Example agent.",
        },
    ]
    human = ok(streamkit(tmp_path, "-A", module, "agents"))
    assert "count_orders" in human and "Example agent." in human


def test_tables_json_describes_the_modules_tables(tmp_path, module):
    # --json given to the group works as well as to the command.
    shown = json.loads(ok(streamkit(tmp_path, "-A", module, "--json", "tables")))
    app = load(tmp_path, module).app

    assert shown == [
        {
            "name": "counts",
            "changelog": f"{app.id}-counts-changelog",
            "partitions": 4,
            "default": "int",
            "help": "Orders per customer.",
        }
    ]

    err = failed(streamkit(tmp_path, "-A", module, "tables", "count"))
    assert "no table 'count' (did you mean 'counts'?)" in err


def test_topics_json_lists_the_apps_topics_without_asking_memory(tmp_path, module):
    result = streamkit(tmp_path, "-A", module, "topics", "--json")
    shown = json.loads(ok(result))
    app_id = load(tmp_path, module).app.id

    assert shown["app"] == app_id
    assert shown["broker"] == "memory://"
    assert shown["broker_topics"] is None
    assert "embedded broker of one process" in result.stderr
    assert shown["topics"] == [
        {
            "name": f"{app_id}-counts-changelog",
            "partitions": 4,
            "compacted": True,
            "used_by": ["table counts"],
        },
        {
            "name": f"{app_id}-myagent",
            "partitions": 8,
            "compacted": False,
            "used_by": ["agent myagent"],
        },
        {
            "name": "orders",
            "partitions": 4,
            "compacted": False,
            "used_by": ["agent count_orders"],
        },
    ]


def test_commands_that_need_another_process_to_see_the_broker_refuse_memory(
    tmp_path, module
):
    for args in (["send", "orders", "{}"], ["tables", "counts"]):
        err = failed(streamkit(tmp_path, "-A", module, *args))
        assert "needs a Kafka broker" in err and "-b kafka://" in err


def test_reset_removes_what_is_in_tabledir_and_says_what(tmp_path, module):
    app = load(tmp_path, module).app
    tabledir = tmp_path / app.conf.tabledir
    (tabledir / "counts-3").mkdir(parents=True)
    (tabledir / "counts-3" / "data.sqlite").write_text("state")
    (tabledir / "offsets.json").write_text("{}")

    shown = json.loads(ok(streamkit(tmp_path, "-A", module, "reset", "--json")))

    assert shown["tabledir"] == str(app.conf.tabledir)
    assert shown["removed"] == [
        str(app.conf.tabledir / "counts-3"),
        str(app.conf.tabledir / "offsets.json"),
    ]
    assert tabledir.is_dir() and list(tabledir.iterdir()) == []
    assert "Nothing to remove" in ok(streamkit(tmp_path, "-A", module, "reset"))


def test_reset_refuses_a_tabledir_that_holds_the_working_directory(tmp_path):
    (tmp_path / "wide.py").write_text(
        "import streamkit\napp = streamkit.App('wide', datadir='.', tabledir='.')\n"
    )
    (tmp_path / "precious.txt").write_text("keep me")

    err = failed(streamkit(tmp_path, "-A", "wide", "reset"))

    assert "refusing to empty tabledir" in err
    assert (tmp_path / "precious.txt").exists()


# -- worker options ------------------------------------------------------------

WEB_REPORTER = """
import json
import streamkit

app = streamkit.App({app_id!r}, broker="memory://")


@app.task
async def report():
    conf = app.conf
    with open("web.json", "w") as f:
        json.dump([conf.web_enabled, conf.web_port, conf.web_bind], f)
"""


def test_worker_web_options_set_the_apps_web_settings(tmp_path, unique, spawn):
    (tmp_path / "reporter.py").write_text(WEB_REPORTER.format(app_id=f"w-{unique}"))
    worker = spawn(
        [
            *STREAMKIT,
            *("-A", "reporter", "worker", "--without-web"),
            *("--web-port", "7123", "--web-bind", "0.0.0.0"),
        ]
    )
    report = tmp_path / "web.json"
    for _ in range(300):
        if report.exists() and report.read_text() or worker.exited():
            break
        asyncio.run(asyncio.sleep(0.1))

    assert json.loads(report.read_text()) == [False, 7123, "0.0.0.0"], worker.log()
    assert worker.stop() == 0

    err = failed(streamkit(tmp_path, "-A", "reporter", "worker", "--web-bind", "a b"))
    assert "--web-bind" in err and "host name or IP address" in err
    err = failed(streamkit(tmp_path, "-A", "reporter", "worker", "--web-port", "70000"))
    assert "--web-port" in err


# -- against Kafka ---------------------------------------------------------------


@pytest.mark.kafka
def test_send_repeat_writes_exactly_those_records(tmp_path, module, kafka_bootstrap):
    url = f"kafka://{kafka_bootstrap}"
    args = ["-A", module, "-b", url, "send", "orders", '{"customer": "ada"}']

    shown = json.loads(ok(streamkit(tmp_path, *args, "-k", "ada", "-r", "3", "--json")))
    records = asyncio.run(read_topic(kafka_bootstrap, "orders"))

    assert [(key, value) for _, _, key, value in records] == [
        (b'"ada"', b'{"customer":"ada"}')
    ] * 3
    assert shown["key"] == "ada" and shown["value"] == {"customer": "ada"}
    assert [(r["partition"], r["offset"]) for r in shown["records"]] == [
        (partition, offset) for partition, offset, _, _ in records
    ]

    # @agent sends to the agent's topic; text that is not JSON stays text.
    app_id = load(tmp_path, module).app.id
    ok(streamkit(tmp_path, "-A", module, "-b", url, "send", "@myagent", "hi there"))
    [(_, _, key, value)] = asyncio.run(read_topic(kafka_bootstrap, f"{app_id}-myagent"))
    assert (key, value) == (None, b'"hi there"')

    err = failed(streamkit(tmp_path, "-A", module, "-b", url, "send", "orders", "7"))
    assert "does not fit topic 'orders'" in err
    err = failed(streamkit(tmp_path, "-A", module, "-b", url, "send", "@nobody", "1"))
    assert "no agent 'nobody'" in err


@pytest.mark.kafka
async def test_tables_name_prints_what_the_workers_committed(
    tmp_path, module, kafka_bootstrap
):
    url = f"kafka://{kafka_bootstrap}"
    app = load(tmp_path, module).app
    app.conf.broker = url
    expected = {"ada": 3, "bo": 1, "cy": 2}

    async with app.running():
        for customer, n in expected.items():
            for _ in range(n):
                await app.topics["orders"].send(
                    key=customer, value={"customer": customer}
                )
        for _ in range(300):
            if app.agents["count_orders"].processed == sum(expected.values()):
                break
            await asyncio.sleep(0.1)
    # Stopped: committed, and the changelog flushed.

    result = await asyncio.to_thread(
        streamkit, tmp_path, "-A", module, "-b", url, "tables", "counts", "--json"
    )
    shown = json.loads(ok(result))

    assert {row["key"]: row["value"] for row in shown} == expected
    assert [row["key"] for row in shown] == sorted(expected)
    human = ok(
        await asyncio.to_thread(
            streamkit, tmp_path, "-A", module, "-b", url, "tables", "counts"
        )
    )
    assert "3 keys" in human and "ada" in human


@pytest.mark.kafka
def test_topics_shows_what_exists_on_the_broker(tmp_path, module, kafka_bootstrap):
    url = f"kafka://{kafka_bootstrap}"
    ok(
        streamkit(
            tmp_path, "-A", module, "-b", url, "send", "orders", '{"customer": 1}'
        )
    )

    shown = json.loads(
        ok(streamkit(tmp_path, "-A", module, "-b", url, "topics", "--json"))
    )

    assert shown["broker_topics"]["orders"] == 4
    on_broker = {row["name"]: row["on_broker"] for row in shown["topics"]}
    assert on_broker["orders"] == 4
    assert on_broker[f"{load(tmp_path, module).app.id}-counts-changelog"] is None


@pytest.mark.kafka
def test_no_command_prints_the_brokers_password(tmp_path, module, kafka_bootstrap):
    secret_url = f"kafka://tester:{PASSWORD}@{kafka_bootstrap}"
    unreachable = f"kafka://tester:{PASSWORD}@127.0.0.1:1"
    runs = [
        streamkit(tmp_path, "-A", module, "-b", secret_url, *args)
        for args in (
            ["send", "orders", '{"customer": "ada"}', "-r", "2"],
            ["send", "orders", '{"customer": "ada"}', "--json"],
            ["topics"],
            ["topics", "--json"],
            ["tables", "counts"],
            ["agents"],
            ["example"],
        )
    ]
    runs += [
        streamkit(tmp_path, "-A", module, "-b", unreachable, "send", "orders", "{}"),
        streamkit(tmp_path, "-A", module, "-b", unreachable, "topics"),
        streamkit(tmp_path, "-A", module, "-b", unreachable, "tables", "counts"),
        streamkit(
            tmp_path, "-A", module, "topics", env={"STREAMKIT_BROKER": unreachable}
        ),
        streamkit(tmp_path, "-A", module, "-b", f"bogus://u:{PASSWORD}@h", "agents"),
    ]

    for result in runs:
        output = result.stdout + result.stderr
        assert PASSWORD not in output
        assert "Traceback" not in output, output
    assert [r.returncode for r in runs] == [0] * 7 + [1, 1, 1, 1, 2]
    assert "cannot connect" in runs[7].stderr
