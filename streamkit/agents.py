"""Agents: named groups of actors processing one topic, redefinable live.

An agent owns the buffer its topic's messages are put in and runs
``concurrency`` actors that each call the agent's function with a
:class:`~streamkit.streams.Stream` over that buffer.

Redefining an agent (re-running its notebook cell, or calling
:meth:`Agent.redefine`) swaps the function without losing or repeating a
message: the buffer stays, the old actors' streams end after their current
event, and the new actors start once the old ones are gone, so they continue
with the next event.

An agent's function must loop over its stream for as long as the App runs.
When it returns anyway (or fails before reading an event) and no actor of
the agent is left, the agent ends: its topic's messages stop waiting for
it, what it had buffered is committed unprocessed and counted in
``skipped``, and a warning says so.  Redefining it starts it again.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from .events import Event, current_agent
from .exceptions import AgentError
from .sensors import Timing
from .streams import Stream, StreamBuffer
from .topics import Topic
from .wording import counted

if TYPE_CHECKING:
    from .app import App

logger = logging.getLogger(__name__)

#: ``hook(agent, exception, event_or_None)``, called inside the failing actor.
ErrorHook = Callable[["Agent", BaseException, "Event | None"], None]

# How long a redefinition or a stop waits for an actor to finish its current
# event before cancelling it (the event then goes back to the buffer).
ACTOR_FINISH_TIMEOUT = 30.0


class Agent:
    """A stream processor: the decorated function and its running actors."""

    def __init__(
        self,
        app: App,
        fun: Callable[[Stream], Any],
        *,
        name: str,
        topic: Topic,
        concurrency: int = 1,
        sinks: Iterable[Any] = (),
        context: contextvars.Context | None = None,
    ) -> None:
        self.app = app
        self.name = name
        self.topic = topic
        self.buffer = StreamBuffer(app.conf.stream_buffer_maxsize)
        self.generation = 0
        self.stopping = True
        self.processed = 0
        #: Events committed without being processed because the agent ended.
        self.skipped = 0
        #: True once the agent ended while the App ran (see the module
        #: docstring), until it is redefined or the App stops.
        self.returned = False
        self.errors = 0
        #: The latest error, ``"ValueError: ... at topic[p]@offset"``.
        self.last_error: str | None = None
        #: Sampled time the function spends per event (see streamkit.sensors).
        self.runtime = Timing()
        self.error_hooks: list[ErrorHook] = []
        self._actors: list[asyncio.Task[None]] = []
        self._swap: asyncio.Task[None] | None = None
        # ``processed`` when the running definition started, for the warning.
        self._processed_before = 0
        self._configure(fun, concurrency, sinks, context)

    def _configure(
        self,
        fun: Callable[[Stream], Any],
        concurrency: int,
        sinks: Iterable[Any],
        context: contextvars.Context | None,
    ) -> None:
        if not callable(fun):
            raise AgentError(f"agent {self.name!r}: {fun!r} is not callable")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise AgentError(
                f"agent {self.name!r}: concurrency must be a positive int, "
                f"got {concurrency!r}"
            )
        self.fun = fun
        self.concurrency = concurrency
        self.sinks = list(sinks)
        self.context = context
        self.__doc__ = fun.__doc__

    def __repr__(self) -> str:
        return (
            f"<Agent {self.name!r} topic={self.topic.name!r} "
            f"concurrency={self.concurrency} {self.state}>"
        )

    def __call__(self, stream: Stream) -> Any:
        return self.fun(stream)

    @property
    def running(self) -> bool:
        return any(not task.done() for task in self._actors)

    @property
    def state(self) -> str:
        """``"running"``, ``"stopped"``, or ``"ended"``: its function returned
        (or failed before reading an event) while the App ran, and it has not
        been defined again since."""
        if self.returned:
            return "ended"
        return "running" if self.running else "stopped"

    async def send(
        self, *, key: Any = None, value: Any = None, partition: int | None = None
    ) -> Any:
        """Send a record to this agent's topic."""
        return await self.topic.send(key=key, value=value, partition=partition)

    async def deliver(self, events: list[Event]) -> None:
        """Buffer events fetched for this agent; waits while the buffer is full.

        Events that arrive once the agent has ended are acknowledged without
        being processed and counted in :attr:`skipped`.
        """
        refused = await self.buffer.put_many(events)
        if refused:
            self._skip(refused)

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> None:
        """Spawn the actors on the running loop."""
        self.stopping = False
        self._spawn_actors()

    async def stop(self) -> None:
        """Let each actor finish its current event, then end it."""
        self.stopping = True
        self.buffer.wake_all()
        if self._swap is not None:
            self._swap.cancel()
        await self._retire(self._actors)
        self._actors = []
        # The next start runs the function again, whatever it did this time.
        self._resume()

    def redefine(
        self,
        fun: Callable[[Stream], Any],
        *,
        concurrency: int | None = None,
        sinks: Iterable[Any] | None = None,
        context: contextvars.Context | None = None,
    ) -> None:
        """Replace the agent's function; running actors are swapped live.

        Raises :class:`~streamkit.exceptions.AgentError` for a bad function
        or concurrency, leaving the running function untouched.
        """
        self._configure(
            fun,
            self.concurrency if concurrency is None else concurrency,
            self.sinks if sinks is None else sinks,
            context,
        )
        if self.stopping:
            return
        if self.returned:
            self._resume()
            self.app.conductor.agents_changed()

        old_actors = self._actors
        self._actors = []
        self.generation += 1
        self.buffer.wake_all()
        previous = self._swap
        self._swap = asyncio.get_running_loop().create_task(
            self._swap_actors(old_actors, previous)
        )

    async def _swap_actors(
        self, old: list[asyncio.Task[None]], previous: asyncio.Task[None] | None
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        await self._retire(old)
        if not self.stopping:
            self._spawn_actors()
            logger.info("agent %s: now running its new definition", self.name)

    async def _retire(self, actors: list[asyncio.Task[None]]) -> None:
        pending = [task for task in actors if not task.done()]
        if not pending:
            return
        _, late = await asyncio.wait(pending, timeout=ACTOR_FINISH_TIMEOUT)
        for task in late:
            logger.warning(
                "agent %s: an actor did not finish its event within %.0fs; "
                "cancelling it (the event will be processed again)",
                self.name,
                ACTOR_FINISH_TIMEOUT,
            )
            task.cancel()
        if late:
            await asyncio.gather(*late, return_exceptions=True)

    def _spawn_actors(self) -> None:
        loop = asyncio.get_running_loop()
        generation = self.generation
        self._processed_before = self.processed
        for index in range(self.concurrency):
            coro = self._run_actor(Stream(self, self.buffer, generation), index)
            if self.context is not None:
                # A task copies the context it is created in: creating it
                # inside ``context.run`` makes the actor's prints and errors
                # belong to whoever captured the context (a notebook cell).
                task = self.context.run(loop.create_task, coro)
            else:
                task = loop.create_task(coro)
            self._actors.append(task)

    # -- the actor ---------------------------------------------------------

    async def _run_actor(self, stream: Stream, index: int) -> None:
        current_agent.set(self)
        logger.info("agent %s: actor %d started", self.name, index)
        try:
            while not stream.retired:
                try:
                    await self._call(stream)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._on_error(exc, stream)
                    if stream.current_event is None:
                        # Failing before any event means it would fail again
                        # at once; restarting would spin.
                        logger.error(
                            "agent %s: actor %d stopped: it failed before "
                            "reading an event; fix it and redefine the agent",
                            self.name,
                            index,
                        )
                        self._actor_ended(stream, failed=True)
                        return
                    stream.ack_failed()
                    continue
                self._actor_ended(stream, failed=False)
                return
        except asyncio.CancelledError:
            stream.release()
            raise

    def _actor_ended(self, stream: Stream, *, failed: bool) -> None:
        stream.finish()
        # Retired streams end because of a redefinition or a stop; with the
        # App stopping, a function returning is part of the stop.
        if stream.retired or self.app.should_stop:
            return
        this = asyncio.current_task()
        others = sum(not task.done() for task in self._actors if task is not this)
        if others:
            # The others go on with the shared buffer, one actor fewer.
            logger.warning(
                "agent %s: an actor's function %s; %s of its %d go on. An "
                "agent's function must loop over its stream for as long as "
                "the App runs; re-run its cell or redefine the agent to start "
                "all of them again",
                self.name,
                "failed before reading an event" if failed else "returned",
                counted(others, "actor"),
                self.concurrency,
            )
            return
        self._end(failed=failed)

    def _end(self, *, failed: bool) -> None:
        # Nothing reads the buffer any more: unless it is emptied and the
        # agent taken off the routes, the offsets of its topic wait forever
        # and so does the consumer, blocked on a full buffer.
        left = self.buffer.close()
        self._skip(left)
        self.returned = True
        self.app.conductor.agents_changed()

        why, advice = self._why_ended(failed)
        logger.warning(
            "agent %s: %s, so it no longer reads topic %r; the %s left in "
            "its buffer are committed without it (%s.skipped counts every "
            "event it skipped). %s; re-run its cell or redefine the agent to "
            "start it again",
            self.name,
            why,
            self.topic.name,
            counted(len(left), "event"),
            self.name,
            advice,
        )

    def _why_ended(self, failed: bool) -> tuple[str, str]:
        if failed:
            return (
                "its function failed before reading an event",
                "Fix the error it raised",
            )
        if inspect.isasyncgenfunction(self.fun):
            ended = "generator ended"
        else:
            ended = "function returned"
        count = counted(self.processed - self._processed_before, "event")
        return (
            f"its {ended} after {count}",
            "An agent must loop over its stream (`async for value in stream:`) "
            "for as long as the App runs",
        )

    def _skip(self, events: list[Event]) -> None:
        for event in events:
            event.ack()
        self.skipped += len(events)

    def _resume(self) -> None:
        self.returned = False
        self.buffer.reopen()

    async def _call(self, stream: Stream) -> None:
        result = self.fun(stream)
        if inspect.isasyncgen(result):
            async for item in result:
                await self._forward(item, stream.current_event)
        elif inspect.isawaitable(result):
            await result
        else:
            raise AgentError(
                f"agent {self.name!r}: its function must be `async def` "
                f"and iterate the stream; it returned {result!r}"
            )

    async def _forward(self, item: Any, event: Event | None) -> None:
        key = event.key if event is not None else None
        for sink in self.sinks:
            if isinstance(sink, (Agent, Topic)):
                await sink.send(key=key, value=item)
            else:
                outcome = sink(item)
                if inspect.isawaitable(outcome):
                    await outcome

    def _on_error(self, exc: BaseException, stream: Stream) -> None:
        self.errors += 1
        event = stream.current_event
        self.app.monitor.on_agent_error(self.name)
        if event is not None:
            m = event.message
            where = f"at {m.topic}[{m.partition}]@{m.offset}"
            then = "the event counts as an error and the agent goes on"
        else:
            where = "before its first event"
            then = "the actor stops (see below)"
        self.last_error = f"{type(exc).__name__}: {exc} {where}"
        logger.error(
            "agent %s raised %s %s; %s",
            self.name,
            type(exc).__name__,
            where,
            then,
            exc_info=not self.error_hooks,
            # A hook (the notebook's) shows this error itself, with its own
            # traceback: a handler that shows log records can skip it.
            extra={"reported_by_hook": bool(self.error_hooks)},
        )
        for hook in list(self.error_hooks):
            try:
                hook(self, exc, event)
            except Exception:
                logger.exception("agent %s: an error hook failed", self.name)
