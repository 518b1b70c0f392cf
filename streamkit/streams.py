"""Streams: the bounded buffer in front of an agent, and the iterator over it.

The consumer fills an agent's :class:`StreamBuffer` a fetch at a time; the
agent's actors drain it through :class:`Stream` objects.  Waiting for room in
a full buffer is the back pressure that keeps a slow agent from piling up
messages (``stream_buffer_maxsize``).

An event is acknowledged when its actor asks for the next one, so an offset
is only committed once the body of the ``async for`` loop has finished with
it, as in Faust.

A buffer is closed when its agent ends (its function returned while the App
ran): nothing reads it any more, so it refuses events instead of making the
consumer wait for room that never comes.
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable
from time import perf_counter
from typing import TYPE_CHECKING, Any

from .events import Event, current_event
from .sensors import RUNTIME_SAMPLE_EVERY
from .transport import TP

if TYPE_CHECKING:
    from .agents import Agent

# Handing out this many buffered events in a row without suspending would
# starve other tasks (and a notebook kernel), so the iterator yields to the
# loop once per stretch.
_YIELD_EVERY = 256


class StreamBuffer:
    """A FIFO of events with a soft limit, shared by the actors of one agent."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._events: deque[Event] = deque()
        self._not_empty: asyncio.Event | None = None
        self._not_full: asyncio.Event | None = None
        #: True once the agent ended: events are refused, not buffered.
        self.closed = False
        self.full_waits = 0
        #: ``full_waits`` by the topic partition of the event being put.
        self.full_waits_by_tp: Counter[TP] = Counter()

    def __len__(self) -> int:
        return len(self._events)

    def _signals(self) -> tuple[asyncio.Event, asyncio.Event]:
        # Created lazily so a buffer built outside a loop binds to the loop
        # that first uses it.
        if self._not_empty is None or self._not_full is None:
            self._not_empty = asyncio.Event()
            self._not_full = asyncio.Event()
        return self._not_empty, self._not_full

    async def put_many(self, events: list[Event]) -> list[Event]:
        """Append events; waits while the buffer is at ``maxsize``.

        Returns the events it did not append because the buffer is closed,
        or was closed while it waited for room (empty when all were put).
        """
        if self.closed:
            return events
        not_empty, not_full = self._signals()
        for index, event in enumerate(events):
            if len(self._events) >= self.maxsize:
                await self._wait_for_room(event, not_empty, not_full)
                # close() can only run while this waits for room, so a
                # closed buffer shows up here, never between two appends.
                if self.closed:
                    return events[index:]
            self._events.append(event)
        if self._events:
            not_empty.set()
        return []

    async def _wait_for_room(
        self, event: Event, not_empty: asyncio.Event, not_full: asyncio.Event
    ) -> None:
        while len(self._events) >= self.maxsize and not self.closed:
            self.full_waits += 1
            self.full_waits_by_tp[event.message.tp] += 1
            not_full.clear()
            not_empty.set()
            await not_full.wait()

    def take_nowait(self) -> Event | None:
        events = self._events
        if not events:
            return None
        event = events.popleft()
        if len(events) < self.maxsize and self._not_full is not None:
            self._not_full.set()
        return event

    async def wait_for_events(self, timeout: float | None = None) -> bool:
        """Wait for a put or a wake-up; True when the buffer then holds events."""
        not_empty, _ = self._signals()
        if self._events:
            return True
        not_empty.clear()
        try:
            await asyncio.wait_for(not_empty.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return bool(self._events)

    def wake_all(self) -> None:
        """Wake every waiting actor, e.g. so that retired ones can end."""
        if self._not_empty is not None:
            self._not_empty.set()

    def push_front(self, event: Event) -> None:
        """Give an event back so the next actor processes it first."""
        self._events.appendleft(event)
        if self._not_empty is not None:
            self._not_empty.set()

    def drop(self, keep: Callable[[Event], bool]) -> list[Event]:
        """Remove and return the events for which ``keep`` is false."""
        kept: deque[Event] = deque()
        dropped = []
        for event in self._events:
            (kept if keep(event) else dropped).append(event)
        self._events = kept
        if self._not_full is not None:
            self._not_full.set()
        return dropped

    def close(self) -> list[Event]:
        """Refuse events from now on; remove and return those buffered.

        A put waiting for room wakes and returns what it could not append.
        """
        self.closed = True
        return self.drop(lambda e: False)

    def reopen(self) -> None:
        """Accept events again (the agent was started again)."""
        self.closed = False


class StreamRetired(Exception):
    """Raised inside an actor whose agent was redefined; ends its loop."""


class Stream:
    """What an agent's function iterates: values, items, events or batches.

    One Stream exists per actor.  When the agent is redefined the old actors'
    streams end after their current event, and the new actors continue with
    the next one from the same buffer.
    """

    def __init__(self, agent: Agent, buffer: StreamBuffer, generation: int):
        self.agent = agent
        self.buffer = buffer
        self.generation = generation
        self.current_event: Event | None = None
        # The list take() yielded last, until it is acknowledged.
        self._held: list[Event] = []
        self._handed_out = 0
        # Runtime sampling (see streamkit.sensors): the event being timed.
        self._sample_in = 1
        self._timed: Event | None = None
        self._timed_at = 0.0

    def __repr__(self) -> str:
        return f"<Stream of agent {self.agent.name!r} ({len(self.buffer)} buffered)>"

    @property
    def retired(self) -> bool:
        return self.generation != self.agent.generation or self.agent.stopping

    async def next_event(self, timeout: float | None = None) -> Event | None:
        """Acknowledge the current event and return the next one.

        Returns None when ``timeout`` passes with nothing to read; raises
        :class:`StopAsyncIteration` when this stream was retired.
        """
        self._ack_current()

        if self.retired:
            raise StopAsyncIteration

        event = self.buffer.take_nowait()
        if event is None:
            while event is None:
                await self.buffer.wait_for_events(timeout)
                if self.retired:
                    raise StopAsyncIteration
                event = self.buffer.take_nowait()
                if event is None and timeout is not None:
                    return None
        else:
            self._handed_out += 1
            if self._handed_out % _YIELD_EVERY == 0:
                await asyncio.sleep(0)
                if self.retired:
                    self.buffer.push_front(event)
                    raise StopAsyncIteration

        self.current_event = event
        current_event.set(event)
        self._sample_in -= 1
        if not self._sample_in:
            self._sample_in = RUNTIME_SAMPLE_EVERY
            self._timed = event
            self._timed_at = perf_counter()
        return event

    def _ack_current(self) -> None:
        event = self.current_event
        if event is not None:
            self.current_event = None
            current_event.set(None)
            event.ack()
            self.agent.processed += 1
            if event is self._timed:
                self._timed = None
                self.agent.runtime.add(perf_counter() - self._timed_at)

    def release(self) -> None:
        """Hand an unfinished current event back to the buffer (on cancel)."""
        event = self.current_event
        if event is not None and not event.acked:
            self.current_event = None
            self.buffer.push_front(event)

    def ack_failed(self) -> None:
        """The body raised on the current event: it is done, as an error."""
        self._ack_current()

    def finish(self) -> None:
        """The function returned: the events it was handed are processed.

        Without this, an event a function returned (or broke out of its
        loop) on would never be acknowledged, and its offset never committed.
        """
        held, self._held = self._held, []
        unacked = [event for event in held if not event.acked]
        if unacked:
            self._ack_batch(unacked)
        event = self.current_event
        if event is not None and event.acked:
            self.current_event = None  # take() acknowledged it with its list
        self._ack_current()

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> Any:
        event = await self.next_event()
        while event is None:
            event = await self.next_event()
        return event.value

    async def items(self) -> AsyncIterator[tuple[Any, Any]]:
        """Iterate ``(key, value)`` pairs."""
        async for event in self.events():
            yield event.key, event.value

    async def events(self) -> AsyncIterator[Event]:
        """Iterate :class:`Event` objects (key, value and the raw message)."""
        while True:
            try:
                event = await self.next_event()
            except StopAsyncIteration:
                return
            if event is not None:
                yield event

    async def enumerate(self, start: int = 0) -> AsyncIterator[tuple[int, Any]]:
        """Iterate ``(index, value)`` pairs."""
        index = start
        async for value in self:
            yield index, value
            index += 1

    async def take(
        self, max_: int, within: float | None = None
    ) -> AsyncIterator[list[Any]]:
        """Iterate lists of up to ``max_`` values.

        With ``within`` seconds, a partial list is yielded when that much time
        passed since its first value; without it, lists are always full
        except the last one before the stream ends.  The events of a list are
        acknowledged when the next list is requested.
        """
        if max_ < 1:
            raise ValueError(f"take(max_={max_!r}): max_ must be at least 1")
        loop = asyncio.get_running_loop()
        batch: list[Event] = []
        deadline: float | None = None
        while True:
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            try:
                event = await self._next_unacked(timeout)
            except StopAsyncIteration:
                if batch:
                    started = perf_counter() if self._timed is not None else None
                    self._held = batch
                    yield [e.value for e in batch]
                    self._ack_batch(batch, started)
                return

            if event is not None:
                batch.append(event)
                if deadline is None and within is not None:
                    deadline = loop.time() + within

            if len(batch) >= max_ or (event is None and batch):
                started = perf_counter() if self._timed is not None else None
                self._held = batch
                yield [e.value for e in batch]
                self._ack_batch(batch, started)
                batch = []
                deadline = None

    async def _next_unacked(self, timeout: float | None) -> Event | None:
        # take() holds several events at once, so the current event must not
        # be acknowledged when the next one is fetched.
        self.current_event = None
        return await self.next_event(timeout)

    def _ack_batch(self, batch: list[Event], started: float | None = None) -> None:
        self._held = []
        for event in batch:
            event.ack()
        self.agent.processed += len(batch)
        # A batch holding the sampled event is timed from yield to ack.
        self._timed = None
        if started is not None:
            self.agent.runtime.add((perf_counter() - started) / len(batch))
