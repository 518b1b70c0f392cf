"""Tables: counting per key, DataFrames, changelog recovery and coalescing."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

import pandas as pd

from streamkit import TableError

from .support import end_offsets, wait_for

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
