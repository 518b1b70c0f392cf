"""``on_leader=True``: one worker of the group runs the job, and another takes
over when it leaves.  On the embedded broker (two Apps of one id in one
process are two members of its group) and on the real Kafka-protocol broker."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from behaviour.support import wait_for

from streamkit import App
from streamkit.transport import TP, create_transport

TICK = 0.1


def leader_timer(app: App, tag: str, ticks: list[str]) -> None:
    @app.timer(TICK, on_leader=True)
    async def heartbeat():
        ticks.append(tag)


async def test_only_the_leader_runs_a_leader_timer(make_app):
    ticks: list[str] = []
    first, second = make_app(), make_app()
    leader_timer(first, "first", ticks)
    leader_timer(second, "second", ticks)

    await first.start()
    await second.start()
    await wait_for(lambda: len(ticks) >= 10, what="10 ticks")
    ticks.clear()
    await asyncio.sleep(0.5)

    assert first.is_leader() != second.is_leader()
    leader = "first" if first.is_leader() else "second"
    assert ticks and set(ticks) == {leader}, ticks


async def test_another_worker_takes_over_when_the_leader_stops(make_app):
    ticks: list[str] = []
    apps = {"first": make_app(), "second": make_app()}
    for tag, app in apps.items():
        leader_timer(app, tag, ticks)
    for app in apps.values():
        await app.start()
    await wait_for(lambda: len(ticks) >= 3, what="the first ticks")

    leader = next(tag for tag, app in apps.items() if app.is_leader())
    follower = "second" if leader == "first" else "first"
    await apps[leader].stop()
    ticks.clear()
    await wait_for(lambda: len(ticks) >= 3, what="the new leader's ticks")

    assert set(ticks) == {follower}
    assert apps[follower].is_leader() and not apps[leader].is_leader()


async def test_a_leader_task_runs_on_the_leader_and_moves_with_it(make_app):
    running: dict[str, bool] = {}
    apps = {"first": make_app(), "second": make_app()}

    def define_duty(app: App, tag: str) -> None:
        @app.task(on_leader=True)
        async def duty():
            running[tag] = True
            try:
                await asyncio.Event().wait()
            finally:
                running[tag] = False

    for tag, app in apps.items():
        define_duty(app, tag)

    for app in apps.values():
        await app.start()
    await wait_for(lambda: any(running.values()), what="the leader task")
    leader = next(tag for tag, app in apps.items() if app.is_leader())

    assert running == {leader: True}
    await apps[leader].stop()
    follower = "second" if leader == "first" else "first"
    await wait_for(lambda: running.get(follower), what="the task on the new leader")
    assert running == {leader: False, follower: True}


async def test_a_worker_without_a_group_is_its_own_leader(make_app):
    app = make_app()
    runs: list[bool] = []

    @app.timer(TICK)
    async def plain():
        runs.append(app.is_leader())

    assert not app.is_leader()  # not running yet
    async with app.running():
        await wait_for(lambda: runs, what="a tick")
        assert app.is_leader()
        assert app.conductor.consumer is None, "no group should be joined"


async def test_leader_job_defined_while_running_joins_the_election(make_app):
    app = make_app()
    ticks: list[str] = []
    async with app.running():
        leader_timer(app, "only", ticks)
        await wait_for(lambda: len(ticks) >= 2, what="ticks of the late timer")
        assert app.is_leader()
        assert app.conductor.leader_topic in await app.transport.list_topics()


async def test_leader_partition_is_not_a_table_partition(make_app, unique):
    app = make_app(topic_partitions=4)
    table = app.Table("counts", default=int)

    @app.agent(app.topic(f"words-{unique}"))
    async def count(stream):
        async for word in stream:
            table[word] += 1

    leader_timer(app, "only", [])
    async with app.running():
        assert app.is_leader()
        assert all(
            tp.topic != app.conductor.leader_topic for tp in app.conductor.assigned
        )
        assert {tp.partition for tp in app.conductor.assigned} == {0, 1, 2, 3}


# -- on the real broker -------------------------------------------------------


@pytest.mark.kafka
async def test_leader_timer_on_kafka_fires_from_one_worker_then_the_other(
    kafka_bootstrap: str, unique: str
):
    broker = f"kafka://{kafka_bootstrap}"
    app_id = f"leader-{unique}"
    out_topic = f"leader-ticks-{unique}"

    def worker(tag: str) -> App:
        # Two Apps, each with its own transport and consumer: two real
        # members of the group, as two worker processes would be.
        app = App(
            app_id,
            broker=broker,
            web_enabled=False,
            topic_partitions=1,
            broker_commit_interval=0.2,
        )
        ticks = app.topic(out_topic)

        @app.timer(0.2, on_leader=True)
        async def heartbeat():
            await ticks.send_and_wait(value=json.dumps({"worker": tag}).encode())

        return app

    first, second = worker("first"), worker("second")
    try:
        await asyncio.gather(first.start(), second.start())
        await wait_for(
            lambda: first.is_leader() or second.is_leader(),
            timeout=60,
            what="a leader to be elected",
        )
        await asyncio.sleep(2.0)
        leader, follower = (first, second) if first.is_leader() else (second, first)
        assert not follower.is_leader()
        await leader.stop()
        await wait_for(follower.is_leader, timeout=60, what="the follower to lead")
        await asyncio.sleep(2.0)
    finally:
        for app in (first, second):
            if app.is_running:
                await app.stop()

    tags = [record["worker"] for record in await read_all(broker, out_topic)]
    leader_tag = "first" if leader is first else "second"
    follower_tag = "second" if leader is first else "first"
    switch = tags.index(follower_tag)
    assert tags[:switch] and set(tags[:switch]) == {leader_tag}, tags
    assert len(tags[switch:]) >= 3 and set(tags[switch:]) == {follower_tag}, tags


async def read_all(broker: str, topic: str) -> list[dict]:
    """Every record of the one-partition ``topic``, decoded from JSON."""
    transport = create_transport(broker, client_id=f"reader-{uuid.uuid4().hex[:6]}")
    await transport.start()
    try:
        end = (await transport.end_offsets([TP(topic, 0)]))[TP(topic, 0)]
        records = []
        async for batch in transport.read_partition(TP(topic, 0), 0, end):
            records.extend(json.loads(m.value) for m in batch)
        return records
    finally:
        await transport.stop()
