"""The Monitor: counters and timings the runtime reports as it works.

Two kinds of figures, both cheap on the hot path:

- counters the runtime objects keep anyway are *read* when asked, never
  pushed: events an agent finished (``agent.processed``), table key reads and
  writes (``table.reads``/``table.writes``), times a full buffer made the
  consumer wait, per topic partition (``buffer.full_waits_by_tp``);
- hooks (``on_*``) the conductor, topics and tables call per fetch, per
  commit or per error, each a few dictionary operations.

Rates are never computed per event.  A periodic tick (:meth:`Monitor.sample`,
once a second while the App runs) appends ``(time, count)`` to a small ring
per counter, and a rate is ``(count now - count at the oldest sample in the
window) / elapsed`` when it is read.

An agent's runtime (the time its body spends on one event) is sampled: a
stream times the first event it hands out and then one event in
:data:`RUNTIME_SAMPLE_EVERY`, from the moment the event is handed to the
body to the moment the body asks for the next one; for ``stream.take()``
a sampled batch's time is divided by its size.

Counters the monitor keeps itself (messages, commits, errors) start at zero
each time the App starts; those the agents, tables and buffers keep count
since the object was defined.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .transport import Message

if TYPE_CHECKING:
    from .app import App

#: Seconds between two samples of the counters rates are computed from.
SAMPLE_INTERVAL = 1.0

#: Rates are averaged over this many seconds of samples.
RATE_WINDOW = 10.0

#: A stream times one event in this many (and its first).
RUNTIME_SAMPLE_EVERY = 64


class Timing:
    """Count, total, last and maximum of measured durations, in seconds."""

    __slots__ = ("count", "total", "last", "max")

    def __init__(self) -> None:
        self.count = 0
        self.total = 0.0
        self.last: float | None = None
        self.max: float | None = None

    def add(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        self.last = seconds
        if self.max is None or seconds > self.max:
            self.max = seconds

    @property
    def mean(self) -> float | None:
        return self.total / self.count if self.count else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_s": self.mean,
            "last_s": self.last,
            "max_s": self.max,
        }

    def __repr__(self) -> str:
        return f"<Timing count={self.count} mean={self.mean} last={self.last}>"


class Rate:
    """The per-second rate of a growing counter over a sliding window.

    :meth:`sample` is called periodically (not per event) with the counter's
    value; :meth:`per_second` compares the current value with the oldest
    sample still inside the window.  When every sample is older than the
    window, the newest one is used, so an idle counter reads 0, not None.
    """

    __slots__ = ("window", "_samples")

    def __init__(
        self, window: float = RATE_WINDOW, interval: float = SAMPLE_INTERVAL
    ) -> None:
        self.window = window
        # One sample per interval covers the window, plus the one before it.
        size = max(2, math.ceil(window / interval) + 2)
        self._samples: deque[tuple[float, int]] = deque(maxlen=size)

    def sample(self, now: float, count: int) -> None:
        self._samples.append((now, count))

    def per_second(self, now: float, count: int) -> float | None:
        """Events per second up to ``now``; None before the first sample."""
        samples = self._samples
        if not samples:
            return None
        start = now - self.window
        base = samples[-1]
        for sample in samples:
            if sample[0] >= start:
                base = sample
                break
        elapsed = now - base[0]
        if elapsed <= 0:
            # Sampled just now: use the interval before this sample.
            if len(samples) < 2:
                return None
            (t0, c0), (t1, c1) = samples[-2], samples[-1]
            return (c1 - c0) / (t1 - t0) if t1 > t0 else None
        return (count - base[1]) / elapsed


class Monitor:
    """Figures of one App: messages, events, runtimes, latencies, errors.

    Args:
        app: the App whose agents, tables and buffers are read; without one
            only the hook-fed figures exist.
        clock: the monotonic clock rates and uptime are measured with.
        window: seconds over which rates are averaged.
    """

    def __init__(
        self,
        app: App | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        window: float = RATE_WINDOW,
    ) -> None:
        self.app = app
        self.clock = clock
        self.window = window
        self.started_at = clock()
        self.messages_received_total = 0
        self.messages_received_by_topic: Counter[str] = Counter()
        self.messages_sent_by_topic: Counter[str] = Counter()
        self.decode_errors: Counter[tuple[str, int]] = Counter()
        self.agent_errors: Counter[str] = Counter()
        self.task_errors: Counter[str] = Counter()
        self.changelog_writes = 0
        self.commits = 0
        self.commit_latency = Timing()
        self.flush_latency = Timing()
        self.send_latency = Timing()
        self.rebalances = 0
        self._rates: dict[tuple[str, str], Rate] = {}

    # -- hooks -------------------------------------------------------------

    def on_messages_received(self, messages: list[Message]) -> None:
        self.messages_received_total += len(messages)
        counts = self.messages_received_by_topic
        topic, run = None, 0
        # Fetches come grouped by partition, so count runs, not messages.
        for message in messages:
            if message.topic != topic:
                if topic is not None:
                    counts[topic] += run
                topic, run = message.topic, 0
            run += 1
        if topic is not None:
            counts[topic] += run

    def on_send(self, topic: str) -> None:
        self.messages_sent_by_topic[topic] += 1

    def on_send_latency(self, seconds: float) -> None:
        """A ``send_and_wait`` took ``seconds`` until the broker had the record."""
        self.send_latency.add(seconds)

    def on_flush(self, seconds: float) -> None:
        """The producer's flush before a commit took ``seconds``."""
        self.flush_latency.add(seconds)

    def on_decode_error(self, topic: str, partition: int) -> None:
        self.decode_errors[(topic, partition)] += 1

    def on_agent_error(self, agent: str) -> None:
        self.agent_errors[agent] += 1

    def on_task_error(self, name: str) -> None:
        self.task_errors[name] += 1

    def on_changelog_writes(self, count: int) -> None:
        self.changelog_writes += count

    def on_commit(self, seconds: float) -> None:
        self.commits += 1
        self.commit_latency.add(seconds)

    def on_rebalance(self) -> None:
        """The group assigned this worker its partitions (again)."""
        self.rebalances += 1

    # -- rates -------------------------------------------------------------

    def _counters(self) -> dict[tuple[str, str], int]:
        counters: dict[tuple[str, str], int] = {
            ("received", ""): self.messages_received_total
        }
        for topic, count in self.messages_received_by_topic.items():
            counters[("received", topic)] = count
        for topic, count in self.messages_sent_by_topic.items():
            counters[("sent", topic)] = count
        counters[("sent", "")] = self.messages_sent_total
        if self.app is not None:
            for name, agent in self.app.agents.items():
                counters[("events", name)] = agent.processed
        return counters

    def sample(self) -> None:
        """Record every counter's value now; rates are computed from these."""
        now = self.clock()
        rates = self._rates
        for key, count in self._counters().items():
            rate = rates.get(key)
            if rate is None:
                rate = rates[key] = Rate(self.window)
            rate.sample(now, count)

    async def sample_forever(self, interval: float = SAMPLE_INTERVAL) -> None:
        """Call :meth:`sample` every ``interval`` seconds until cancelled."""
        while True:
            self.sample()
            await asyncio.sleep(interval)

    def _rate(self, key: tuple[str, str], count: int, now: float) -> float | None:
        rate = self._rates.get(key)
        if rate is None:
            return None
        per_second = rate.per_second(now, count)
        return None if per_second is None else round(per_second, 3)

    def events_per_second(self, agent: str) -> float | None:
        """Events the agent finished per second over the window; None if unknown."""
        if self.app is None or agent not in self.app.agents:
            return None
        count = self.app.agents[agent].processed
        return self._rate(("events", agent), count, self.clock())

    def messages_per_second(self, topic: str | None = None) -> float | None:
        """Messages received per second, of one topic or of all."""
        if topic is None:
            count = self.messages_received_total
        else:
            count = self.messages_received_by_topic.get(topic, 0)
        return self._rate(("received", topic or ""), count, self.clock())

    @property
    def messages_sent_total(self) -> int:
        return sum(self.messages_sent_by_topic.values())

    def messages_sent_per_second(self) -> float | None:
        """Messages sent per second, over all topics."""
        return self._rate(("sent", ""), self.messages_sent_total, self.clock())

    # -- reading -----------------------------------------------------------

    def buffer_full_waits(self) -> dict[tuple[str, int], int]:
        """Times the consumer waited for room in a full agent buffer, per
        topic partition of the message it was delivering."""
        waits: Counter[tuple[str, int]] = Counter()
        if self.app is not None:
            for agent in self.app.agents.values():
                waits.update(agent.buffer.full_waits_by_tp)
        return dict(waits)

    def agents_as_dict(self, now: float | None = None) -> dict[str, Any]:
        if self.app is None:
            return {}
        now = self.clock() if now is None else now
        return {
            name: {
                "topic": agent.topic.name,
                "concurrency": agent.concurrency,
                "events": agent.processed,
                "events_per_s": self._rate(("events", name), agent.processed, now),
                "errors": agent.errors,
                "runtime": agent.runtime.as_dict(),
                "buffered": len(agent.buffer),
                "buffer_maxsize": agent.buffer.maxsize,
                "buffer_full_waits": agent.buffer.full_waits,
            }
            for name, agent in list(self.app.agents.items())
        }

    def topics_as_dict(self, now: float | None = None) -> dict[str, Any]:
        now = self.clock() if now is None else now
        received, sent = self.messages_received_by_topic, self.messages_sent_by_topic
        return {
            topic: {
                "received": received.get(topic, 0),
                "received_per_s": self._rate(
                    ("received", topic), received.get(topic, 0), now
                ),
                "sent": sent.get(topic, 0),
                "sent_per_s": self._rate(("sent", topic), sent.get(topic, 0), now),
            }
            for topic in sorted(set(received) | set(sent))
        }

    def tables_as_dict(self) -> dict[str, Any]:
        if self.app is None:
            return {}
        return {
            table.name: {
                "keys": len(table),
                "reads": table.reads,
                "writes": table.writes,
            }
            for table in list(self.app.tables)
        }

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot of every figure (no settings, no secrets)."""
        now = self.clock()
        assigned = 0
        if self.app is not None:
            assigned = len(self.app.conductor.assigned)
        return {
            "uptime_s": round(now - self.started_at, 3),
            "messages_received_total": self.messages_received_total,
            "messages_received_per_s": self._rate(
                ("received", ""), self.messages_received_total, now
            ),
            "messages_sent_total": self.messages_sent_total,
            "messages_sent_per_s": self._rate(
                ("sent", ""), self.messages_sent_total, now
            ),
            "topics": self.topics_as_dict(now),
            "agents": self.agents_as_dict(now),
            "tables": self.tables_as_dict(),
            "buffer_full_waits": _by_partition(self.buffer_full_waits()),
            "decode_errors": _by_partition(self.decode_errors),
            "agent_errors": dict(self.agent_errors),
            "task_errors": dict(self.task_errors),
            "changelog_writes": self.changelog_writes,
            "commits": self.commits,
            "commit_latency": self.commit_latency.as_dict(),
            "producer_flush_latency": self.flush_latency.as_dict(),
            "send_latency": self.send_latency.as_dict(),
            "rebalances": self.rebalances,
            "assigned_partitions": assigned,
            "rate_window_s": self.window,
        }


def _by_partition(counts: dict[tuple[str, int], int]) -> dict[str, int]:
    return {f"{t}[{p}]": n for (t, p), n in sorted(counts.items())}
