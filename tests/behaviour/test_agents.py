"""Agents: typed topics, anonymous topics, sinks, concurrency, errors, redefinition."""

from __future__ import annotations

import asyncio
from collections import Counter

from streamkit import Record

from .support import wait_for

CUSTOMERS = ("ada", "grace", "linus", "barbara")


class Order(Record):
    id: int
    customer: str
    cents: int


def make_orders(count: int) -> list[Order]:
    return [
        Order(id=i, customer=CUSTOMERS[i % len(CUSTOMERS)], cents=(i * 37) % 1000 + 1)
        for i in range(count)
    ]


def checksum(orders: list[Order]) -> int:
    return sum(o.id * o.cents for o in orders)


async def test_agent_on_typed_topic_processes_every_order_sent(make_app, unique):
    app = make_app()
    orders_topic = app.topic(f"orders-{unique}", value_type=Order)
    received: list[Order] = []

    @app.agent(orders_topic)
    async def take_orders(stream):
        async for order in stream:
            received.append(order)

    sent = make_orders(300)
    async with app.running():
        for order in sent:
            await orders_topic.send(key=order.customer, value=order)
        await wait_for(
            lambda: len(received) >= len(sent),
            what="every order to be processed",
            state=lambda: len(received),
        )
        await asyncio.sleep(0.1)  # anything extra would arrive now

    assert all(isinstance(order, Order) for order in received)
    assert len(received) == len(sent)
    assert sorted(o.id for o in received) == list(range(len(sent)))
    assert checksum(received) == checksum(sent)
    assert Counter(o.customer for o in received) == Counter(o.customer for o in sent)
    assert take_orders.processed == len(sent)


async def test_agent_without_channel_reads_its_anonymous_topic(make_app):
    app = make_app()
    seen: list[int] = []

    @app.agent()
    async def lonely(stream):
        async for value in stream:
            seen.append(value)

    assert lonely.topic.name == f"{app.id}-lonely"
    async with app.running():
        assert f"{app.id}-lonely" in await app.transport.list_topics()
        for value in range(20):
            await lonely.send(value=value)
        await wait_for(lambda: len(seen) >= 20, what="20 values", state=seen.copy)

    assert sorted(seen) == list(range(20))


async def test_yielded_values_reach_every_sink(make_app, unique):
    app = make_app()
    doubled_topic = app.topic(f"doubled-{unique}")
    collected: list[int] = []
    read_back: list[int] = []

    @app.agent()
    async def collector(stream):
        async for value in stream:
            collected.append(value)

    @app.agent(sink=[collector, doubled_topic])
    async def doubler(stream):
        async for value in stream:
            yield value * 2

    @app.agent(doubled_topic)
    async def reader(stream):
        async for value in stream:
            read_back.append(value)

    values = list(range(50))
    expected = sorted(v * 2 for v in values)
    async with app.running():
        for value in values:
            await doubler.send(key=value, value=value)
        await wait_for(
            lambda: len(collected) >= 50 and len(read_back) >= 50,
            what="the doubled values in both sinks",
            state=lambda: (len(collected), len(read_back)),
        )
        await asyncio.sleep(0.1)

    assert sorted(collected) == expected
    assert sorted(read_back) == expected


async def test_concurrent_actors_process_each_message_exactly_once(make_app, unique):
    app = make_app()
    topic = app.topic(f"work-{unique}")
    done: list[int] = []
    active = 0
    most_active = 0

    @app.agent(topic, concurrency=3)
    async def worker(stream):
        nonlocal active, most_active
        async for value in stream:
            active += 1
            most_active = max(most_active, active)
            await asyncio.sleep(0.002)
            done.append(value)
            active -= 1

    count = 300
    async with app.running():
        for value in range(count):
            await topic.send(value=value)
        await wait_for(
            lambda: len(done) >= count, what="300 values", state=lambda: len(done)
        )
        await asyncio.sleep(0.1)

    assert len(done) == count
    assert set(done) == set(range(count))
    assert most_active == 3


async def test_agent_errors_are_counted_and_later_values_processed(make_app, unique):
    app = make_app()
    topic = app.topic(f"fragile-{unique}")
    good: list[int] = []

    @app.agent(topic)
    async def fragile(stream):
        async for value in stream:
            if value % 7 == 3:
                raise ValueError(f"cannot handle {value}")
            good.append(value)

    values = list(range(100))
    bad = [v for v in values if v % 7 == 3]
    expected_good = [v for v in values if v % 7 != 3]
    async with app.running():
        for value in values:
            await topic.send(key=value, value=value)
        await wait_for(
            lambda: fragile.processed >= len(values),
            what="every value to be handled",
            state=lambda: (fragile.processed, fragile.errors),
        )

    assert fragile.errors == len(bad)
    assert app.monitor.agent_errors["fragile"] == len(bad)
    assert sorted(good) == expected_good
    assert max(good) == 99  # values after the last failure are processed


async def test_redefined_agent_processes_each_message_once(make_app, unique):
    app = make_app()
    topic = app.topic(f"live-{unique}")
    log: list[tuple[str, int]] = []

    async def old_version(stream):
        async for value in stream:
            log.append(("old", value))

    async def new_version(stream):
        async for value in stream:
            log.append(("new", value))

    agent = app.agent(topic, name="same")(old_version)
    count = 400

    async def send_steadily() -> None:
        for value in range(count):
            await topic.send(key=value, value=value)
            if value % 10 == 9:
                await asyncio.sleep(0.02)

    async with app.running():
        sender = asyncio.create_task(send_steadily())
        await wait_for(lambda: len(log) >= 60, what="the old function to get going")
        assert not sender.done(), "messages must still flow at the swap"
        replaced = app.agent(topic, name="same")(new_version)
        await sender
        await wait_for(
            lambda: len(log) >= count, what="all 400 values", state=lambda: len(log)
        )
        await asyncio.sleep(0.1)

    assert replaced is agent
    values = [value for _, value in log]
    assert sorted(values) == list(range(count)), "lost or repeated values"
    versions = [version for version, _ in log]
    first_new = versions.index("new")
    assert first_new >= 60
    assert "old" not in versions[first_new:], "old function ran after the swap"
