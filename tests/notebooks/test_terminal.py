"""``%load_ext streamkit`` in terminal IPython, typed at its real prompt in a pty.

Only the prompt_toolkit prompt (not ``--simple-prompt``) runs IPython's
asyncio loop while it waits for input, so that is the one driven here.  The
agents sleep on every record, so a batch is still being processed when the
cell that sent it returns; the rest can only be processed at the prompt.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest
from notebook_kernel import REPO
from test_lifecycle import doubler, read_after_exit

#: Printed by ``ask``; the typed code spells it ``"=" "> "``, so the echo of
#: what was typed never matches.
ANSWER = re.compile(r"=> (.*?)\r\n")


class TerminalIPython:
    """IPython's terminal front end in a pty, driven keystroke by keystroke."""

    def __init__(self, workdir: Path) -> None:
        env = dict(
            os.environ,
            TERM="xterm",
            IPYTHONDIR=str(workdir / "ipython"),  # not the user's profile
            PROMPT_TOOLKIT_NO_CPR="1",  # nothing answers cursor-position queries
        )
        self.child = pexpect.spawn(
            sys.executable,
            ["-m", "IPython", "--no-banner", "--colors=NoColor", "--no-autoindent"],
            env=env,
            cwd=str(REPO),
            encoding="utf-8",
            timeout=20,
            dimensions=(50, 200),
        )
        self.workdir = workdir
        self.transcript = (workdir / "terminal.log").open("w")
        self.child.logfile_read = self.transcript
        self._markers = itertools.count()

    def run(self, code: str) -> str:
        """Type ``code`` at the prompt and return what it printed.

        Enter is ``\\r`` in a raw terminal.  A ``%%`` cell is only complete
        after a blank line, which takes two more Enters at its end.
        """
        lines = code.strip("\n").split("\n")
        enters = "\r\r\r" if lines[0].startswith("%%") else "\r"
        self.child.send("\r".join(lines) + enters)

        marker = next(self._markers)
        self.child.send(f"print('DO' 'NE', {marker})\r")
        self.child.expect(f"DONE {marker}\r\n")
        return self.child.before

    def ask(self, expression: str) -> str:
        """The repr of ``expression``, evaluated at the prompt without awaiting
        (so the loop only runs at the prompt, not while this cell runs)."""
        self.child.send(f"print('=' '> ' + repr(({expression})))\r")
        self.child.expect(ANSWER)
        return self.child.match.group(1)

    def wait_at_prompt(self, expression: str, expected: str, timeout: float) -> str:
        """Sit at the prompt until ``expression`` is ``expected``; the last
        value seen."""
        deadline = time.monotonic() + timeout
        while (value := self.ask(expression)) != expected:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return value

    def exit(self) -> int:
        """Leave IPython; its exit status."""
        self.child.send("exit\r")
        self.child.expect(pexpect.EOF, timeout=30)
        self.child.close()
        self.transcript.close()
        return self.child.exitstatus

    def kill(self) -> None:
        self.child.close(force=True)
        self.transcript.close()


@pytest.fixture
def terminal(tmp_path: Path) -> Iterator[TerminalIPython]:
    shell = TerminalIPython(tmp_path)
    try:
        yield shell
    finally:
        if shell.child.isalive():
            shell.kill()


SLOW_AGENT = """%%agent numbers
async def slow(stream):
    async for value in stream:
        await asyncio.sleep(0.02)
        seen.append(value)
"""


def test_agent_processes_records_while_the_prompt_waits(
    terminal: TerminalIPython, unique: str
) -> None:
    terminal.run("import asyncio, streamkit")
    terminal.run("%load_ext streamkit")
    terminal.run(
        f'app = streamkit.App("term-{unique}", broker="memory://term-{unique}",'
        " web_enabled=False)"
    )
    terminal.run('numbers = app.topic("numbers"); seen = []')
    defined = terminal.run(SLOW_AGENT)
    assert "agent 'slow' on topic 'numbers'" in defined

    started = terminal.run("%streamkit start")
    assert f"app 'term-{unique}' (memory://term-{unique}) started" in started
    terminal.run(
        "await asyncio.gather(*(numbers.send(value=i) for i in range(50)));"
        " at_return = len(seen)"
    )

    assert int(terminal.ask("at_return")) < 50, "the batch outlasts the cell"
    assert terminal.wait_at_prompt("len(seen)", "50", timeout=10) == "50"
    assert terminal.ask("sorted(seen) == list(range(50))") == "True"
    assert terminal.ask("slow.processed, slow.errors") == "(50, 0)"

    assert "stopped" in terminal.run("%streamkit stop")
    assert terminal.exit() == 0


def start_on_kafka(
    terminal: TerminalIPython, bootstrap: str, group: str, partitions: int, agent: str
) -> None:
    """At the prompt: an App of ``group`` on Kafka with ``agent`` (a cell)
    reading ``numbers``, started; it commits only when it stops."""
    terminal.run("import asyncio, streamkit")
    terminal.run("%load_ext streamkit")
    terminal.run(
        f'app = streamkit.App("{group}", broker="kafka://{bootstrap}",'
        " broker_commit_interval=600, web_enabled=False)"
    )
    terminal.run(
        f'numbers = app.topic("{group}", partitions={partitions});'
        f' doubled = app.topic("{group}-doubled", partitions={partitions})'
    )
    terminal.run("started, seen = [], []")
    terminal.run(agent)
    terminal.run("await app.start()")


@pytest.mark.kafka
def test_exit_stops_the_app_and_commits_its_offsets(
    terminal: TerminalIPython, kafka_bootstrap: str, unique: str
) -> None:
    group = f"term-exit-{unique}"
    start_on_kafka(terminal, kafka_bootstrap, group, partitions=2, agent=SLOW_AGENT)
    terminal.run("for i in range(20): await numbers.send(value=i)")
    assert terminal.wait_at_prompt("len(seen)", "20", timeout=15) == "20"
    assert terminal.ask("app.conductor.committed") == "{}", "no commit before exit"

    assert terminal.exit() == 0

    on_broker, _ = read_after_exit(kafka_bootstrap, group, partitions=2)
    assert sum(on_broker.end_offsets.values()) == 20
    assert on_broker.committed == on_broker.end_offsets
    assert (on_broker.state, on_broker.members) == ("Empty", 0)


@pytest.mark.kafka
def test_exit_with_an_event_in_flight_finishes_it_before_the_namespace_goes(
    terminal: TerminalIPython, kafka_bootstrap: str, unique: str
) -> None:
    # IPython clears the user namespace when its prompt loop ends, before
    # the process's exit hooks run: the agent's event in flight still uses
    # its variables (seen, doubled), so the App must stop first.
    group = f"term-inflight-{unique}"
    start_on_kafka(terminal, kafka_bootstrap, group, partitions=1, agent=doubler(0.5))
    terminal.run("for i in range(10): await numbers.send(value=i)")
    assert terminal.wait_at_prompt("len(started) >= 2", "True", timeout=15) == "True"

    assert terminal.exit() == 0

    transcript = (terminal.workdir / "terminal.log").read_text()
    assert "NameError" not in transcript and "Traceback" not in transcript
    on_broker, finished = read_after_exit(kafka_bootstrap, group, partitions=1)
    assert 2 <= finished < 10, "the event in flight was finished, not the rest"
    assert on_broker.committed == {0: finished}
    assert sum(on_broker.end_offsets.values()) == 10
    assert (on_broker.state, on_broker.members) == ("Empty", 0)
