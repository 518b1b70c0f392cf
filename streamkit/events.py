"""Events: a decoded message on its way through an agent, and its acknowledgement.

An offset may be committed only once every agent that received its message
has finished with it.  Each fetched message gets one :class:`Pending` entry
in its partition's :class:`OffsetTracker`; each delivery of the message to
an agent holds a reference to that entry and acknowledges it once.
"""

from __future__ import annotations

from collections import deque
from contextvars import ContextVar
from typing import Any

from .transport import TP, Message

#: The event the current actor is processing (set per actor task).
current_event: ContextVar[Event | None] = ContextVar(
    "streamkit_current_event", default=None
)

#: The agent whose actor runs in the current task (a table checks it).
current_agent: ContextVar[Any] = ContextVar("streamkit_current_agent", default=None)


class Pending:
    """How many deliveries of one message are still being processed."""

    __slots__ = ("offset", "remaining", "dropped")

    def __init__(self, offset: int, remaining: int) -> None:
        self.offset = offset
        self.remaining = remaining
        # A delivery was taken back from a buffer unprocessed (its partition
        # was revoked): the offset must be read again, never committed.
        self.dropped = False


class Event:
    """One decoded message delivered to one agent."""

    __slots__ = ("key", "value", "message", "_pending")

    def __init__(self, key: Any, value: Any, message: Message, pending: Pending):
        self.key = key
        self.value = value
        self.message = message
        self._pending: Pending | None = pending

    def ack(self) -> None:
        """Mark this delivery done; safe to call more than once."""
        pending = self._pending
        if pending is not None:
            pending.remaining -= 1
            self._pending = None

    @property
    def acked(self) -> bool:
        return self._pending is None

    def __repr__(self) -> str:
        m = self.message
        return (
            f"<Event {m.topic}[{m.partition}]@{m.offset} "
            f"key={self.key!r} value={self.value!r}>"
        )


class OffsetTracker:
    """Per partition: the offsets fetched, in order, and how far they are done.

    Messages of a partition are fetched in offset order, so the committable
    offset is just past the longest fully processed prefix.  Offsets need not
    be contiguous (compaction and transaction markers leave gaps), which is why
    the tracker keeps the offsets themselves instead of counting.
    """

    __slots__ = ("_partitions",)

    def __init__(self) -> None:
        self._partitions: dict[TP, deque[Pending]] = {}

    def add(self, tp: TP, offset: int, deliveries: int) -> Pending:
        pending = Pending(offset, deliveries)
        queue = self._partitions.get(tp)
        if queue is None:
            queue = self._partitions[tp] = deque()
        queue.append(pending)
        return pending

    def committable(self) -> dict[TP, int]:
        """Pop the processed prefix of every partition; next offsets to read."""
        offsets: dict[TP, int] = {}
        for tp, queue in self._partitions.items():
            last = None
            while queue and queue[0].remaining <= 0:
                last = queue.popleft().offset
            if last is not None:
                offsets[tp] = last + 1
        return offsets

    def oldest_unfinished(self, tp: TP) -> int | None:
        """The first offset of ``tp`` fetched and not finished yet (a dropped
        one included: it is read again), if any."""
        for pending in self._partitions.get(tp, ()):
            if pending.remaining > 0:
                return pending.offset
        return None

    def in_flight(self, tps: set[TP]) -> int:
        """Messages of ``tps`` being processed, before the first dropped one."""
        count = 0
        for tp in tps:
            for pending in self._partitions.get(tp, ()):
                if pending.dropped:
                    break
                if pending.remaining > 0:
                    count += 1
        return count

    def forget(self, tps: set[TP]) -> None:
        for tp in tps:
            self._partitions.pop(tp, None)
