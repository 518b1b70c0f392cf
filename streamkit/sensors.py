"""The Monitor: counters and timings the runtime reports as it works.

Hooks are called per batch or per event on the hot path, so each one is a
few dictionary operations; figures derived from them (rates) are computed
only when read.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from typing import Any

from .transport import Message


class Monitor:
    """Figures of one App: messages, events, errors, commits, rebalances."""

    def __init__(self) -> None:
        self.started_at = time.monotonic()
        self.messages_received_total = 0
        self.messages_received_by_topic: Counter[str] = Counter()
        self.messages_sent_by_topic: Counter[str] = Counter()
        self.decode_errors: Counter[tuple[str, int]] = Counter()
        self.agent_errors: Counter[str] = Counter()
        self.task_errors: Counter[str] = Counter()
        self.changelog_writes = 0
        self.commits = 0
        self.commit_latency: deque[float] = deque(maxlen=100)
        self.rebalances = 0

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
        self.commit_latency.append(seconds)

    def on_rebalance(self) -> None:
        self.rebalances += 1

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready snapshot of every figure."""
        latency = list(self.commit_latency)
        return {
            "uptime_s": round(time.monotonic() - self.started_at, 3),
            "messages_received_total": self.messages_received_total,
            "messages_received_by_topic": dict(self.messages_received_by_topic),
            "messages_sent_by_topic": dict(self.messages_sent_by_topic),
            "decode_errors": {
                f"{t}[{p}]": n for (t, p), n in self.decode_errors.items()
            },
            "agent_errors": dict(self.agent_errors),
            "task_errors": dict(self.task_errors),
            "changelog_writes": self.changelog_writes,
            "commits": self.commits,
            "commit_latency_avg_s": sum(latency) / len(latency) if latency else None,
            "rebalances": self.rebalances,
        }
