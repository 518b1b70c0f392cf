"""Tables: counting per key, DataFrames, changelog recovery and coalescing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pandas as pd
import pytest

from streamkit import TableError

from .support import committed_offsets, end_offsets, wait_for

WORDS = "apple banana cherry damson elder fig grape hazel kiwi lime mango nut".split()


def random_words(count: int, seed: int = 13) -> list[str]:
    rng = random.Random(seed)
    return [rng.choice(WORDS) for _ in range(count)]


async def test_table_counts_recover_from_coalesced_changelog(make_app, unique):
    app = make_app()
    words_topic = app.topic(f"words-{unique}")
    counts = app.Table("counts", default=int)

    @app.agent(words_topic)
    async def count_words(stream):
        async for word in stream:
            counts[word] += 1

    sent = random_words(2000)
    expected = Counter(sent)
    async with app.running():
        empty = counts.as_dataframe()
        assert (list(empty.columns), empty.index.name, len(empty)) == (
            ["value"],
            "key",
            0,
        )
        for word in sent:
            await words_topic.send(key=word, value=word)
        await wait_for(
            lambda: count_words.processed >= len(sent),
            what="every word to be counted",
            state=lambda: count_words.processed,
        )
        await asyncio.sleep(0.1)

        assert counts.as_dict() == dict(expected)
        oracle = (
            pd.DataFrame({"word": sent})
            .groupby("word")
            .size()
            .rename("value")
            .rename_axis("key")
            .to_frame()
        )
        pd.testing.assert_frame_equal(counts.as_dataframe(), oracle)
        value_counts = pd.Series(sent).value_counts().sort_index()
        assert counts.as_dataframe()["value"].tolist() == value_counts.tolist()

    # A new App with the same id: same group, same changelog.
    restarted = make_app()
    restarted_topic = restarted.topic(f"words-{unique}")
    recovered = restarted.Table("counts", default=int)
    recounted: list[str] = []

    @restarted.agent(restarted_topic)
    async def count_again(stream):
        async for word in stream:
            recounted.append(word)

    async with restarted.running():
        changelog_ends = await end_offsets(restarted, recovered.changelog)
        assert recovered.as_dict() == dict(expected), (
            f"not recovered from the changelog (end offsets {changelog_ends})"
        )
        await asyncio.sleep(0.5)  # two commit intervals: nothing is replayed
        assert recounted == []
        assert recovered.as_dict() == dict(expected)

    changelog_records = sum(changelog_ends.values())
    assert counts.writes == len(sent)
    assert changelog_records == app.monitor.changelog_writes
    assert len(WORDS) <= changelog_records <= len(sent) // 10, (
        f"{changelog_records} changelog records for {len(sent)} table updates: "
        "writes are not coalesced per key per commit"
    )


async def test_table_write_from_concurrent_agent_raises_table_error(make_app, unique):
    app = make_app()
    topic = app.topic(f"racy-{unique}")
    table = app.Table("racy", default=int)
    raised: list[BaseException] = []

    @app.agent(topic, concurrency=2)
    async def racy(stream):
        async for value in stream:
            try:
                table[value] += 1
            except Exception as exc:
                raised.append(exc)
                raise

    count = 30
    async with app.running():
        for value in range(count):
            await topic.send(key=value, value=value)
        await wait_for(
            lambda: racy.processed >= count,
            what="every value to be attempted",
            state=lambda: (racy.processed, racy.errors),
        )
        await asyncio.sleep(0.1)

    assert len(raised) == count
    assert all(isinstance(exc, TableError) for exc in raised)
    assert "concurrency" in str(raised[0])
    assert racy.errors == count
    assert app.monitor.agent_errors["racy"] == count
    assert table.as_dict() == {}


async def test_table_fed_by_an_unkeyed_stream_recovers_exact_counts(
    make_app, unique, caplog
):
    # Unkeyed messages spread one word over every partition: the table keeps
    # each key in one changelog partition, so recovery cannot pick a stale
    # value, and it warns that several workers would split the updates.
    app = make_app()
    words_topic = app.topic(f"unkeyed-{unique}")
    counts = app.Table("counts", default=int)

    @app.agent(words_topic)
    async def count_words(stream):
        async for word in stream:
            counts[word] += 1

    sent = random_words(800, seed=7)
    async with app.running():
        for word in sent:
            await words_topic.send(value=word)
        await wait_for(
            lambda: count_words.processed >= len(sent),
            what="every word to be counted",
            state=lambda: count_words.processed,
        )

    warnings = [
        r for r in caplog.records if "lives in changelog partition" in r.message
    ]
    assert len(warnings) == 1

    restarted = make_app()
    recovered = restarted.Table("counts", default=int)
    async with restarted.running():
        assert recovered.as_dict() == dict(Counter(sent))


async def test_table_write_with_key_none_is_a_handler_error_and_the_app_goes_on(
    make_app, unique
):
    # The README's count per origin over stream.items(), fed records with and
    # without a key: a None key cannot go to the compacted changelog, so the
    # write fails in the handler, the event counts as an agent error, and
    # the keyed records around it are counted and committed.
    app = make_app()
    flights = app.topic(f"flights-{unique}")
    counts = app.Table("per-origin", default=int)
    raised: list[tuple[BaseException, tuple[str, int, int]]] = []

    @app.agent(flights)
    async def count_origins(stream):
        async for event in stream.events():
            try:
                counts[event.key] += 1
            except TableError as exc:
                m = event.message
                raised.append((exc, (m.topic, m.partition, m.offset)))
                raise

    sent = ["JFK", None, "LGA", "JFK", None, "EWR", "JFK", None]
    expected = Counter(origin for origin in sent if origin is not None)
    async with app.running():
        for origin in sent:
            await flights.send(key=origin, value={"origin": origin or "JFK"})
        await wait_for(
            lambda: count_origins.processed >= len(sent),
            what="every flight to be attempted",
            state=lambda: (count_origins.processed, count_origins.errors),
        )
        ends = await end_offsets(app, flights)
        written = {tp: end for tp, end in ends.items() if end}
        await wait_for(
            lambda: app.conductor.committed.items() >= written.items(),
            timeout=5.0,
            what="every offset, failed ones included, to be committed",
            state=lambda: (app.conductor.committed, ends),
        )

        assert app.is_running and app.failure is None
        assert counts.as_dict() == dict(expected)
        assert count_origins.errors == sent.count(None)
        assert app.monitor.agent_errors["count_origins"] == sent.count(None)
        assert await committed_offsets(app, flights) == ends

        await flights.send(key="LGA", value={"origin": "LGA"})
        await wait_for(
            lambda: counts.peek("LGA") == expected["LGA"] + 1,
            what="a keyed flight after the errors to be counted",
            state=counts.as_dict,
        )

    assert len(raised) == sent.count(None)
    message = str(raised[0][0])
    topic, partition, offset = raised[0][1]
    assert "table 'per-origin'" in message
    assert "key None" in message
    assert f"'{app.id}-per-origin-changelog' is compacted" in message
    assert f"{topic}[{partition}]@{offset}" in message
    assert "Send the records with a key" in message
    assert count_origins.last_error is not None
    assert count_origins.last_error.startswith("TableError: table 'per-origin'")

    # Nothing of the failed writes reached the changelog: a new App of the
    # same group recovers the keyed counts and replays nothing.
    restarted = make_app()
    restarted_flights = restarted.topic(f"flights-{unique}")
    recovered = restarted.Table("per-origin", default=int)
    replayed: list[object] = []

    @restarted.agent(restarted_flights)
    async def replay(stream):
        async for key, _ in stream.items():
            replayed.append(key)

    async with restarted.running():
        await asyncio.sleep(0.5)  # two commit intervals: nothing is replayed
        assert replayed == []
        assert recovered.as_dict() == {**expected, "LGA": expected["LGA"] + 1}


async def test_table_key_none_is_refused_outside_an_agent_too(make_app):
    # A timer, a task or a notebook cell has no event: the error says what
    # is wrong without one, and the table stays as it was.
    app = make_app()
    counts = app.Table("per-origin", default=int)
    async with app.running():
        counts["JFK"] = 2
        with pytest.raises(TableError) as set_none:
            counts[None] = 1
        with pytest.raises(TableError) as add_none:
            counts[None] += 1
        with pytest.raises(TableError) as del_none:
            del counts[None]
        await app.commit()
        changelog_ends = await end_offsets(app, counts.changelog)

    for raised in (set_none, add_none, del_none):
        message = str(raised.value)
        assert "table 'per-origin'" in message and "key None" in message
        assert "compacted" in message
        assert "[" not in message.split("compacted")[0]  # no event named
    assert counts.as_dict() == {"JFK": 2}
    assert counts.writes == 1
    assert sum(changelog_ends.values()) == 1
