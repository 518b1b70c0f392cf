"""The notebook magics in a real kernel, on the embedded broker.

Each test drives a fresh kernel cell by cell, as a notebook would, and checks
the values the App computed in the kernel against ones computed here.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from notebook_kernel import NotebookKernel

AGENT_V1 = """%%agent events --name tagger
async def tagger(stream):
    async for event in stream.events():
        await asyncio.sleep(0)  # lets a swap land in the middle of an event
        counts[event.key] += 1
        counts["v1"] += 1
        m = event.message
        seen.append(("v1", event.value, m.partition, m.offset))
"""

AGENT_V2 = """%%agent events --name tagger
swapped_at = sent[0]

async def tagger(stream):
    async for event in stream.events():
        await asyncio.sleep(0)
        counts[event.key] += 1
        counts["v2"] += 1
        m = event.message
        seen.append(("v2", event.value, m.partition, m.offset))
"""

COUNTER = """%%agent words
async def counter(stream):
    async for word in stream:
        pass
"""

TAGGER_SETUP = """
seen = []
sent = [0]
counts = app.Table("counts", default=int)
events = app.topic("events")

async def produce(start, stop, pause_every=0):
    for i in range(start, stop):
        await events.send(key=f"k{i % 5}", value=i)
        sent[0] += 1
        if pause_every and i % pause_every == 0:
            await asyncio.sleep(0.002)
"""


def send_range(kernel: NotebookKernel, start: int, stop: int) -> None:
    kernel.run(
        f"await produce({start}, {stop})\nawait until(lambda: len(seen) >= {stop})"
    )


def key_counts(stop: int) -> Counter[str]:
    return Counter(f"k{i % 5}" for i in range(stop))


def test_agent_cell_counts_into_a_table(kernel: NotebookKernel) -> None:
    origins = random.Random(7).choices(["EWR", "JFK", "LGA"], k=300)
    kernel.run(
        'counts = app.Table("counts", default=int)\nflights = app.topic("flights")'
    )

    cell = kernel.run(
        "%%agent flights\n"
        "async def count_flights(stream):\n"
        "    async for flight in stream:\n"
        '        counts[flight["origin"]] += 1\n'
    )
    assert "agent 'count_flights' on topic 'flights'" in kernel.output(cell.msg_id)
    assert kernel.eval("type(count_flights).__name__") == "Agent"

    kernel.run(
        "await app.start()\n"
        f"for origin in {origins!r}:\n"
        '    await flights.send(key=origin, value={"origin": origin})\n'
        f"await until(lambda: count_flights.processed == {len(origins)})"
    )

    assert kernel.eval("counts.as_dict()") == dict(Counter(origins))
    assert kernel.eval("count_flights.errors") == 0


def test_rerun_agent_cell_swaps_handler_keeping_state(kernel: NotebookKernel) -> None:
    n1, n2 = 200, 150
    kernel.run(TAGGER_SETUP + "\nawait app.start()")
    kernel.run(AGENT_V1)
    send_range(kernel, 0, n1)

    cell = kernel.run(AGENT_V2)
    assert "replaced live" in kernel.output(cell.msg_id)
    send_range(kernel, n1, n1 + n2)
    kernel.run("await asyncio.sleep(0.2)")  # room for a late, duplicate delivery

    seen = kernel.eval("seen")
    values = sorted(value for _, value, _, _ in seen)
    assert values == list(range(n1 + n2))  # each message exactly once
    assert {v for tag, v, _, _ in seen if tag == "v1"} == set(range(n1))
    assert {v for tag, v, _, _ in seen if tag == "v2"} == set(range(n1, n1 + n2))
    assert kernel.eval("tagger.processed") == n1 + n2

    # v1's writes survived the swap and v2 kept adding to them.
    expected = dict(key_counts(n1 + n2), v1=n1, v2=n2)
    assert kernel.eval("counts.as_dict()") == expected


def test_swap_while_messages_flow_is_exactly_once(kernel: NotebookKernel) -> None:
    total = 3000
    kernel.run(TAGGER_SETUP + "\nawait app.start()")
    kernel.run(AGENT_V1)
    kernel.run(
        f"producer = asyncio.ensure_future(produce(0, {total}, pause_every=25))\n"
        "await until(lambda: len(seen) >= 300)"
    )

    kernel.run(AGENT_V2)
    kernel.run(f"await producer\nawait until(lambda: tagger.processed >= {total})")
    kernel.run("await asyncio.sleep(0.2)")

    swapped_at = kernel.eval("swapped_at")
    assert 300 <= swapped_at < total, "the swap must happen while messages flow"

    seen = kernel.eval("seen")
    assert sorted(value for _, value, _, _ in seen) == list(range(total))
    assert len({(p, o) for _, _, p, o in seen}) == total
    v1 = [entry for entry in seen if entry[0] == "v1"]
    v2 = [entry for entry in seen if entry[0] == "v2"]
    assert v1 and v2

    # Per partition, the old body saw a prefix of the offsets, the new one the rest.
    for partition in {p for _, _, p, _ in seen}:
        old = [o for _, _, p, o in v1 if p == partition]
        new = [o for _, _, p, o in v2 if p == partition]
        assert not old or not new or max(old) < min(new)

    expected = dict(key_counts(total), v1=len(v1), v2=len(v2))
    assert kernel.eval("counts.as_dict()") == expected
    assert kernel.eval("tagger.processed") == total


def test_syntax_error_cell_leaves_running_handler(kernel: NotebookKernel) -> None:
    kernel.run(TAGGER_SETUP + "\nawait app.start()")
    kernel.run(AGENT_V1)
    send_range(kernel, 0, 20)

    broken = AGENT_V2.replace("async def tagger(stream):", "async def tagger(stream)")
    cell = kernel.run(broken, ok=False)

    assert cell.status == "error"
    output = kernel.output(cell.msg_id)
    assert "SyntaxError" in output
    assert "handler is unchanged" in output
    assert kernel.eval("'swapped_at' in globals()") is False  # nothing ran
    assert kernel.eval("type(tagger).__name__") == "Agent"

    send_range(kernel, 20, 40)
    assert {tag for tag, _, _, _ in kernel.eval("seen")} == {"v1"}
    assert kernel.eval("tagger.processed") == 40


def test_bad_options_and_cells_leave_running_handler(kernel: NotebookKernel) -> None:
    kernel.run(TAGGER_SETUP + "\nawait app.start()")
    kernel.run(AGENT_V1)
    send_range(kernel, 0, 10)

    two_defs = AGENT_V2 + "\nasync def helper():\n    pass\n"
    bad_cells = {
        AGENT_V2.replace("--name tagger", "--name tagger --concurrency zero"): (
            "--concurrency: must be a positive integer"
        ),
        AGENT_V2.replace("--name tagger", "--name tagger --bogus 1"): (
            "unrecognized arguments: --bogus"
        ),
        two_defs: "exactly one `async def`",
        AGENT_V2.replace("async def", "def"): "make it `async def`",
        AGENT_V2.replace("--name tagger", "--name tagger --app nope"): (
            "'nope' is not defined"
        ),
    }
    for code, message in bad_cells.items():
        cell = kernel.run(code, ok=False)
        assert cell.status == "error"
        assert message in kernel.output(cell.msg_id)

    assert kernel.eval("'swapped_at' in globals()") is False
    assert kernel.eval("tagger.concurrency") == 1
    send_range(kernel, 10, 30)
    assert {tag for tag, _, _, _ in kernel.eval("seen")} == {"v1"}
    assert kernel.eval("tagger.processed") == 30


def test_handler_error_shows_under_its_cell_and_agent_goes_on(
    kernel: NotebookKernel,
) -> None:
    kernel.run("good = []\nnumbers = app.topic('numbers')\nawait app.start()")
    agent_cell = kernel.run(
        "%%agent numbers\n"
        "async def picky(stream):\n"
        "    async for value in stream:\n"
        "        if value % 5 == 0:\n"
        '            raise ValueError(f"bad value {value}")\n'
        "        good.append(value)\n"
        '        print("good value", value)\n'
    )
    send_cell = kernel.run(
        "for i in range(20):\n"
        "    await numbers.send(value=i)\n"
        "await until(lambda: picky.processed == 20)"
    )
    kernel.run("for i in (21, 22, 23):\n    await numbers.send(value=i)")
    kernel.run("await until(lambda: picky.processed == 23)")
    kernel.settle()

    bad = [i for i in range(20) if i % 5 == 0]
    assert kernel.eval("picky.errors") == len(bad)
    assert sorted(kernel.eval("good")) == [i for i in range(20) if i % 5] + [21, 22, 23]

    output = kernel.output(agent_cell.msg_id)
    number = agent_cell.reply["execution_count"]
    # The first three in full; the fourth in a digest line after a quiet
    # period (tests/notebooks/test_error_output.py follows a long run).
    # (Partitions interleave, so which three is not fixed.)
    in_full = [value for value in bad if f"ValueError: bad value {value}\n" in output]
    assert len(in_full) == 3
    assert output.count(f"Cell In[{number}], line 5") == 3
    assert output.count("Traceback") <= 3  # the log line adds none
    assert "agents.py" not in output  # the runtime's frames are trimmed
    assert "good value 23" in output  # prints land under the agent's cell too
    assert "ValueError" not in kernel.output(send_cell.msg_id)
    assert "good value" not in kernel.output(send_cell.msg_id)


def test_timer_cell_fires_and_rerun_swaps_it(kernel: NotebookKernel) -> None:
    kernel.run("ticks = []\nawait app.start()")
    kernel.run("%%timer 0.2\nasync def tick():\n    ticks.append('a')\n")
    kernel.run("await until(lambda: len(ticks) >= 3, timeout=5)")
    assert kernel.eval("type(tick).__name__, tick.interval") == ["Timer", 0.2]

    swap = kernel.run("%%timer 0.2\nasync def tick():\n    ticks.append('b')\n")
    assert "replaced live" in kernel.output(swap.msg_id)
    kernel.run(
        "await until(lambda: ticks.count('b') >= 3, timeout=5)\n"
        "a_after_swap = ticks.count('a')\n"
        "await asyncio.sleep(0.5)"
    )
    assert kernel.eval("ticks.count('a') == a_after_swap")
    assert kernel.eval("len(app.scheduler.jobs)") == 1
    # The replaced timer's runs go on counting in the new one.
    assert kernel.eval("tick.runs == len(ticks)")

    for line in ("%%timer zero", "%%timer -1", "%%timer"):
        cell = kernel.run(
            f"{line}\nasync def tick():\n    ticks.append('c')\n", ok=False
        )
        assert cell.status == "error"
        assert "%%timer" in kernel.output(cell.msg_id)
    kernel.run("await asyncio.sleep(0.5)")
    assert "c" not in kernel.eval("ticks")

    # A failing timer shows its traceback under its cell and keeps ticking.
    boom = kernel.run("%%timer 0.1\nasync def boom():\n    1 / 0\n")
    kernel.run("await until(lambda: boom.errors >= 2, timeout=5)")
    kernel.settle()
    output = kernel.output(boom.msg_id)
    assert f"Cell In[{boom.reply['execution_count']}], line 3" in output
    assert "ZeroDivisionError" in output


def test_streamkit_start_status_stop_and_reload(kernel: NotebookKernel) -> None:
    kernel.run("words = app.topic('words')")
    kernel.run(COUNTER)

    start = kernel.run("%streamkit start")
    kernel.run("await until(lambda: app.is_running)\nawait asyncio.sleep(0.1)")
    assert "app 'nb-" in kernel.output(start.msg_id)
    assert "started" in kernel.output(start.msg_id)

    kernel.run(
        "for w in 'abcde':\n"
        "    await words.send(value=w)\n"
        "await until(lambda: counter.processed == 5)"
    )
    status = kernel.output(kernel.run("%streamkit status").msg_id)
    assert ": running, broker memory://nb-" in status
    assert re.search(r"counter\s+words\s+1\s+5\s+0\s+0", status)

    # Secrets are redacted; with several Apps, the one called `app` is meant.
    kernel.run(
        "other = streamkit.App('other', broker='kafka://user:s3cret@localhost:9')"
    )
    other = kernel.output(kernel.run("%streamkit status --app other").msg_id)
    assert "s3cret" not in other and "kafka://localhost:9" in other
    assert "stopped" in other
    assert "nb-" in kernel.output(kernel.run("%streamkit status").msg_id)
    kernel.run("mine = app\ndel app")
    cell = kernel.run("%streamkit status", ok=False)
    assert "--app NAME" in kernel.output(cell.msg_id)
    kernel.run("app = mine")

    stop = kernel.run("%streamkit stop")
    kernel.run("await until(lambda: not app.is_running)\nawait asyncio.sleep(0.1)")
    assert "stopped" in kernel.output(stop.msg_id)

    # Reloading leaves one log handler and one error hook per handler.
    kernel.run("%reload_ext streamkit\n%reload_ext streamkit\n%load_ext streamkit")
    kernel.run(COUNTER)
    assert kernel.eval("len(counter.error_hooks)") == 1
    log = kernel.run(
        "import logging\nlogging.getLogger('streamkit.test').warning('once %d', 1)"
    )
    assert kernel.output(log.msg_id).count("once 1") == 1
    handlers = "logging.getLogger('streamkit').handlers"
    assert kernel.eval(f"[type(h).__name__ for h in {handlers}]") == ["CellLogHandler"]

    kernel.run("%unload_ext streamkit")
    assert kernel.eval(f"[type(h).__name__ for h in {handlers}]") == []
    assert kernel.run("%streamkit status", ok=False).status == "error"


def test_rerun_without_its_topic_moves_the_agent_and_says_so(kernel) -> None:
    kernel.run('letters = app.topic("letters")\nseen = []\nawait app.start()')
    on_letters = "async def reader(stream):\n    async for v in stream:\n"
    kernel.run(f"%%agent letters\n{on_letters}        seen.append(v)\n")

    cell = kernel.run(f"%%agent\n{on_letters}        seen.append(('moved', v))\n")

    shown = kernel.output(cell.msg_id)
    anonymous = kernel.eval("reader.topic.name")
    assert anonymous == kernel.eval("app.id") + "-reader"
    assert f"on topic {anonymous!r}" in shown
    assert "moved from topic 'letters': the cell names no TOPIC now" in shown
    kernel.run(
        "await letters.send(value=1)\nawait reader.send(value=2)\n"
        "await until(lambda: seen)\nawait asyncio.sleep(0.3)"
    )
    assert kernel.eval("seen") == [["moved", 2]]


README_COUNTER = """%%agent flights
async def count_origins(stream):
    async for origin, flight in stream.items():
        counts[origin] += 1
"""


def committed_on(topic: str) -> str:
    committed = "app.conductor.committed.items()"
    return f"sum(o for tp, o in {committed} if tp.topic == {topic!r})"


def test_unkeyed_send_to_the_readme_agent_is_its_error_and_the_app_goes_on(
    kernel: NotebookKernel,
) -> None:
    # The README's example fed a flight sent without --key: the table cannot
    # store key None, so the agent's cell shows why, and the App keeps
    # running, committing and counting the keyed flights that follow.
    kernel.run('counts = app.Table("per-origin", default=int)\nawait app.start()')
    agent_cell = kernel.run(README_COUNTER)
    unkeyed = kernel.output(
        kernel.run("""%streamkit send flights '{"origin": "JFK"}'""").msg_id
    )
    where = re.search(r"partition (\d+) offset (\d+)", unkeyed)
    assert where is not None, unkeyed
    partition, offset = where.groups()

    kernel.run("await until(lambda: count_origins.errors == 1)")
    kernel.run(f"await until(lambda: {committed_on('flights')} == 1, timeout=10)")
    kernel.run("""%streamkit send flights '{"origin": "JFK"}' --key JFK""")
    kernel.run("""%streamkit send flights '{"origin": "LGA"}' --key LGA""")
    kernel.run("await until(lambda: count_origins.processed == 3)")
    kernel.run(f"await until(lambda: {committed_on('flights')} == 3, timeout=10)")
    kernel.settle()

    assert kernel.eval("app.is_running, app.failure is None") == [True, True]
    assert kernel.eval("counts.as_dict()") == {"JFK": 1, "LGA": 1}
    assert kernel.eval("count_origins.errors") == 1
    status = kernel.output(kernel.run("%streamkit status").msg_id)
    assert ": running, broker memory://nb-" in status
    assert re.search(r"count_origins\s+flights\s+1\s+3\s+1\s+0", status)

    output = kernel.output(agent_cell.msg_id)
    number = agent_cell.reply["execution_count"]
    assert (
        "TableError: table 'per-origin': cannot write key None while processing "
        f"flights[{partition}]@{offset} (a record sent without a key)"
    ) in output
    assert "is compacted" in output and "--key KEY" in output
    assert f"Cell In[{number}], line 4" in output
    assert "stopping after an error" not in output


def test_status_says_why_an_app_stopped_and_a_failed_start_is_retried(
    kernel: NotebookKernel,
) -> None:
    kernel.run("await app.start()")
    kernel.run(
        "app.fail(streamkit.TransportError('a record was not delivered'))\n"
        "await app.wait_failed()"
    )
    status = kernel.output(kernel.run("%streamkit status").msg_id)
    lines = status.splitlines()
    assert lines[0].startswith("app 'nb-") and ": stopped, broker" in lines[0]
    assert lines[1] == (
        "stopped after an error it cannot recover from: "
        "TransportError: a record was not delivered"
    )
    assert "%streamkit start" in lines[2]
    assert "a record was not delivered" in kernel.eval("repr(app)")

    kernel.run("%streamkit start")
    kernel.run("await until(lambda: app.is_running)")
    status = kernel.output(kernel.run("%streamkit status").msg_id)
    assert ": running" in status and "not delivered" not in status

    # A start that cannot reach the broker fails the same clear way each time.
    kernel.run("bad = streamkit.App('bad', broker='kafka://127.0.0.1:1')")
    for _attempt in range(2):
        cell = kernel.run("%streamkit start --app bad", ok=False, timeout=60)
        kernel.run("await until(lambda: not bad.is_starting, timeout=30)")
        kernel.settle()
        output = kernel.output(cell.msg_id)
        assert "app 'bad' (kafka://127.0.0.1:1) failed to start" in output
        assert "TransportError: cannot connect: Kafka at 127.0.0.1:1" in output
        assert "AssertionError" not in output
    assert kernel.eval("bad.is_running, bad.transport is None") == [False, True]


def test_an_agent_cell_may_yield_like_a_faust_agent(kernel: NotebookKernel) -> None:
    # An async generator agent: each yielded value is its result (a sink
    # would get it), and a re-run cell swaps the generator like any body.
    kernel.run("numbers = app.topic('numbers')\nyielded = []\nawait app.start()")
    cell = kernel.run(
        "%%agent numbers\n"
        "async def doubler(stream):\n"
        "    async for value in stream:\n"
        "        yielded.append(value * 2)\n"
        "        yield value * 2\n"
    )
    assert "agent 'doubler' on topic 'numbers'" in kernel.output(cell.msg_id)
    values = random.Random(7).sample(range(1000), 20)
    kernel.run(
        f"for v in {values!r}:\n"
        "    await numbers.send(value=v)\n"
        f"await until(lambda: doubler.processed == {len(values)})"
    )

    assert sorted(kernel.eval("yielded")) == sorted(2 * v for v in values)
    assert kernel.eval("doubler.errors, doubler.running") == [0, True]
