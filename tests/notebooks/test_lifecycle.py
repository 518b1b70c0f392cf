"""The App across the kernel's lifecycle: ``%reload_ext streamkit``, a shutdown
and a restart requested by the front end, in real kernels.

A clean stop is observed from outside the kernel, on the Kafka-protocol
broker: the group's committed offsets (the Apps here commit every ten
minutes, so only the final commit of a clean stop can write them), its
membership, and the records the agent produced.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from notebook_kernel import KERNEL_HELPERS, NotebookKernel

PARTITIONS = 2

#: jupyter_client sends SIGTERM this long after a shutdown request (half of
#: KernelManager.shutdown_wait_time): a clean stop must be over by then.
SIGTERM_AFTER = 2.5

KAFKA_SETUP = """
app = streamkit.App(
    "{group}",
    broker="kafka://{bootstrap}",
    broker_commit_interval=600,
    web_enabled=False,
)
numbers = app.topic("{topic}", partitions={partitions})
doubled = app.topic("{topic}-doubled", partitions={partitions})
started, seen = [], []
"""


def doubler(pause: float = 0.0) -> str:
    """The ``%%agent`` cell of an agent that doubles what ``numbers`` carries
    into ``doubled``, spending ``pause`` seconds on each record."""
    sleep = f"        await asyncio.sleep({pause})\n" if pause else ""
    return (
        "%%agent numbers\n"
        "async def doubler(stream):\n"
        "    async for value in stream:\n"
        "        started.append(value)\n"
        f"{sleep}"
        "        seen.append(value)\n"
        "        await doubled.send(value=2 * value)\n"
    )


@dataclass
class GroupOnBroker:
    """What the broker knows of a consumer group and the topics it reads."""

    committed: dict[int, int]
    end_offsets: dict[int, int]
    state: str
    members: int


async def topic_end_offsets(
    bootstrap: str, topic: str, partitions: int = PARTITIONS
) -> dict[int, int]:
    """The end offset of each of ``topic``'s partitions, by partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in ends.items()}


def read_after_exit(
    bootstrap: str, group: str, partitions: int = PARTITIONS
) -> tuple[GroupOnBroker, int]:
    """The doubler's group as the broker has it, and how many records the
    doubler sent to ``doubled``."""
    on_broker = asyncio.run(read_group(bootstrap, group, group, partitions))
    ends = asyncio.run(topic_end_offsets(bootstrap, f"{group}-doubled", partitions))
    return on_broker, sum(ends.values())


async def read_group(
    bootstrap: str, group: str, topic: str, partitions: int = PARTITIONS
) -> GroupOnBroker:
    """The group's committed offsets on ``topic`` and its membership, read
    without joining the group; and ``topic``'s end offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        (description,) = await admin.describe_consumer_groups([group])
    finally:
        await admin.close()
    _, _, state, _, _, members = description.groups[0]
    return GroupOnBroker(
        committed={tp.partition: m.offset for tp, m in offsets.items()},
        end_offsets=await topic_end_offsets(bootstrap, topic, partitions),
        state=state,
        members=len(members),
    )


@pytest.fixture
def notebook(tmp_path: Path) -> Iterator[NotebookKernel]:
    """A bare kernel; tests shut it down gracefully themselves."""
    nb = NotebookKernel(tmp_path)
    try:
        yield nb
    finally:
        if nb.manager.is_alive():
            nb.shutdown()


def start_doubler(
    nb: NotebookKernel,
    bootstrap: str,
    group: str,
    partitions: int = PARTITIONS,
    pause: float = 0.0,
) -> None:
    setup = KAFKA_SETUP.format(
        group=group, bootstrap=bootstrap, topic=group, partitions=partitions
    )
    nb.run(KERNEL_HELPERS)
    nb.run(setup)
    nb.run(doubler(pause))
    nb.run("await app.start()")


def send_and_process(nb: NotebookKernel, values: range) -> None:
    nb.run(
        f"for i in {values!r}:\n"
        "    await numbers.send(value=i)\n"
        f"await until(lambda: len(seen) >= {len(values)})",
        timeout=30,
    )


def shut_down_gracefully(nb: NotebookKernel) -> tuple[int | None, float]:
    """Shut the kernel down as a front end does; its exit code and how long
    the shutdown took."""
    process = nb.manager.provisioner.process  # type: ignore[union-attr] - started
    nb.client.stop_channels()
    started = time.monotonic()
    nb.manager.shutdown_kernel(now=False)
    return process.returncode, time.monotonic() - started


def test_reload_ext_keeps_one_agent_and_no_extra_tasks(kernel: NotebookKernel) -> None:
    task_names = "sorted(t.get_coro().__qualname__ for t in asyncio.all_tasks())"
    kernel.run('import logging\nseen = []\nletters = app.topic("letters")')
    kernel.run(
        "%%agent letters --name reader\n"
        "async def reader(stream):\n"
        "    async for value in stream:\n"
        '        seen.append(("v1", value))\n'
    )
    kernel.run("await app.start()")
    tasks_before = kernel.eval(task_names)

    for _ in range(2):
        kernel.run("%reload_ext streamkit")
    kernel.run(
        "for i in range(40):\n"
        "    await letters.send(value=i)\n"
        "await until(lambda: len(seen) >= 40)\n"
        "await asyncio.sleep(0.3)  # room for a second agent's copies"
    )

    assert sorted(kernel.eval("seen")) == [["v1", i] for i in range(40)]
    assert kernel.eval(task_names) == tasks_before
    assert kernel.eval("[a.id for a in streamkit.embedding.active_apps()]") == [
        kernel.eval("app.id")
    ]
    assert kernel.eval("len(logging.getLogger('streamkit').handlers)") == 1

    # The magics registered by the reload still swap the running handler.
    cell = kernel.run(
        "%%agent letters --name reader\n"
        "async def reader(stream):\n"
        "    async for value in stream:\n"
        '        seen.append(("v2", value))\n'
    )
    assert "replaced live" in kernel.output(cell.msg_id)
    kernel.run(
        "for i in range(40, 50):\n"
        "    await letters.send(value=i)\n"
        "await until(lambda: len(seen) >= 50)\n"
        "await asyncio.sleep(0.3)"
    )
    assert sorted(kernel.eval("seen[40:]")) == [["v2", i] for i in range(40, 50)]
    assert kernel.eval("list(app.agents)") == ["reader"]
    assert kernel.eval(task_names) == tasks_before


@pytest.mark.kafka
def test_kernel_shutdown_commits_offsets_and_leaves_the_group(
    notebook: NotebookKernel, kafka_bootstrap: str, unique: str
) -> None:
    group = f"shutdown-{unique}"
    start_doubler(notebook, kafka_bootstrap, group)
    send_and_process(notebook, range(30))
    assert notebook.eval("app.conductor.committed") == {}, "no commit before stop"

    exit_code, took = shut_down_gracefully(notebook)

    assert exit_code == 0, "the kernel was killed before the App stopped"
    assert took < SIGTERM_AFTER
    on_broker, doubled = read_after_exit(kafka_bootstrap, group)
    assert sum(on_broker.end_offsets.values()) == 30
    assert on_broker.committed == on_broker.end_offsets
    assert (on_broker.state, on_broker.members) == ("Empty", 0)
    assert doubled == 30


@pytest.mark.kafka
def test_kernel_shutdown_finishes_the_event_in_flight_and_commits_only_finished(
    notebook: NotebookKernel, kafka_bootstrap: str, unique: str
) -> None:
    # An agent that just began a 1.5 s event when the front end asks for a
    # shutdown: the event is finished (its output sent), exactly the
    # finished events are committed, and what was still buffered is left
    # for the next run.
    group = f"inflight-{unique}"
    start_doubler(notebook, kafka_bootstrap, group, partitions=1, pause=1.5)
    notebook.run(
        "for i in range(5):\n"
        "    await numbers.send(value=i)\n"
        "await until(lambda: len(started) == 2, timeout=30)",
        timeout=40,
    )

    exit_code, took = shut_down_gracefully(notebook)

    assert exit_code == 0, "the kernel was killed before the App stopped"
    assert took < SIGTERM_AFTER
    on_broker, finished = read_after_exit(kafka_bootstrap, group, partitions=1)
    assert finished == 2, "the event in flight was finished, no other started"
    assert sum(on_broker.end_offsets.values()) == 5
    assert on_broker.committed == {0: finished}
    assert (on_broker.state, on_broker.members) == ("Empty", 0)


@pytest.mark.kafka
def test_restarted_kernel_resumes_from_the_committed_offset(
    notebook: NotebookKernel, kafka_bootstrap: str, unique: str
) -> None:
    group = f"restart-{unique}"
    start_doubler(notebook, kafka_bootstrap, group)
    send_and_process(notebook, range(20))

    notebook.manager.restart_kernel(now=False)
    notebook.client.wait_for_ready(timeout=60)
    assert notebook.eval("'app' in globals()") is False, "a new kernel process"
    start_doubler(notebook, kafka_bootstrap, group)
    send_and_process(notebook, range(20, 35))
    notebook.run("await asyncio.sleep(0.5)  # room for a replay of old records")

    assert sorted(notebook.eval("seen")) == list(range(20, 35))
    exit_code, _ = shut_down_gracefully(notebook)
    assert exit_code == 0
    _, doubled = read_after_exit(kafka_bootstrap, group)
    assert doubled == 35


def test_rerunning_the_app_cell_stops_the_app_it_replaces(kernel):
    define = """
app = streamkit.App(
    "rerun-{unique}", broker="memory://rerun-{unique}", web_enabled=False
)
numbers = app.topic("numbers")
seen = []
"""
    agent = """%%agent numbers
async def collect(stream):
    async for value in stream:
        seen.append(value)
"""
    unique = kernel.eval("app.id").removeprefix("nb-")
    kernel.run(define.replace("{unique}", unique))
    kernel.run(agent)
    kernel.run("await app.start()\nimport weakref\nfirst = weakref.ref(app)")

    rerun = kernel.run(define.replace("{unique}", unique))
    kernel.run("await until(lambda: not first().is_running)")
    assert "replaced by this cell, stopped" in kernel.output(rerun.msg_id)

    kernel.run(agent)
    kernel.run(
        """
await app.start()
for i in range(25):
    await numbers.send(value=i)
await until(lambda: len(seen) == 25)
await asyncio.sleep(0.3)
"""
    )
    # One App consumes: every record once, none twice.
    assert sorted(kernel.eval("seen")) == list(range(25))
    assert kernel.eval("len(streamkit.embedding.active_apps())") == 1


def test_an_app_rerun_and_started_in_one_cell_keeps_the_table(kernel):
    # The README's App cell starts the App: the old one must be stopped
    # (changelog flushed, offsets committed) before the new one recovers.
    define = """
app = streamkit.App("keep-{unique}", broker="memory://keep-{unique}", web_enabled=False)
flights = app.topic("flights", key_type=str)
counts = app.Table("per-origin", default=int)
await app.start()
"""
    agent = """%%agent flights
async def count_origins(stream):
    async for origin, _flight in stream.items():
        counts[origin] += 1
"""
    unique = kernel.eval("app.id").removeprefix("nb-")
    kernel.run(define.replace("{unique}", unique))
    kernel.run(agent)
    kernel.run(
        """
for origin in ["EWR", "LGA", "JFK", "EWR"]:
    await flights.send(key=origin, value={"origin": origin})
await until(lambda: sum(counts.values()) == 4)
"""
    )

    rerun = kernel.run(define.replace("{unique}", unique))  # at once, no pause
    assert "replaced, stopped" in kernel.output(rerun.msg_id)
    kernel.run(agent)
    kernel.run(
        """
await flights.send(key="EWR", value={"origin": "EWR"})
await until(lambda: counts["EWR"] == 3)
"""
    )
    assert kernel.eval("counts.as_dict()") == {"EWR": 3, "LGA": 1, "JFK": 1}
    assert kernel.eval("len(streamkit.embedding.active_apps())") == 1
