"""The conductor: fetches messages, hands them to agents, commits what is done.

One consumer reads every topic an agent subscribes to.  Each fetched batch
is decoded and put into the buffers of the agents of its topic; an offset is
committed once all of them have finished with it, and only after the tables'
changelogs have been flushed, so state on the broker never lags the offsets.

Batching per fetch (no task or future per message) is what keeps this fast.

Leader election: when a job is for the leader only (``on_leader=True``),
every worker also subscribes to the one-partition topic
``{app_id}-__leader``; the member the group assigns its partition 0 is the
leader.  Nothing is ever written to that topic: the group's assignment is
the election, and a rebalance (a worker joining, leaving or dying) is a new
one.  Without a consumer at all (no agent and no leader job) there is no
group to share with, and the worker is its own leader.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import TYPE_CHECKING

from .events import Event, OffsetTracker
from .exceptions import DecodeError, TransportError
from .transport import TP, Consumer, Message

if TYPE_CHECKING:
    from .agents import Agent
    from .app import App

logger = logging.getLogger(__name__)

# How long a revocation waits for actors to finish the events they hold.
REVOKE_TIMEOUT = 30.0

LEADER_TOPIC_SUFFIX = "__leader"


class Conductor:
    """Consumer, dispatch, offset tracking and commits for one App."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.consumer: Consumer | None = None
        self.tracker = OffsetTracker()
        self.assigned: set[TP] = set()
        self.committed: dict[TP, int] = {}
        #: Per partition, the offset after the last record fetched.
        self.fetched: dict[TP, int] = {}
        self._routes: dict[str, list[Agent]] = {}
        self._topics: frozenset[str] = frozenset()
        self._fetcher: asyncio.Task[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        self._commit_lock: asyncio.Lock | None = None
        self._assigned_once: asyncio.Event | None = None
        self._resubscribe: asyncio.Task[None] | None = None
        #: True while this worker holds partition 0 of the leader topic.
        self.is_leader = False

    @property
    def group_id(self) -> str:
        return self.app.id

    @property
    def leader_topic(self) -> str:
        """The one-partition topic whose owner is the group's leader."""
        return f"{self.app.id}-{LEADER_TOPIC_SUFFIX}"

    @property
    def _leader_tp(self) -> TP:
        return TP(self.leader_topic, 0)

    def _subscription(self) -> frozenset[str]:
        topics = set(self._routes)
        if self.app.scheduler.has_leader_jobs:
            topics.add(self.leader_topic)
        return frozenset(topics)

    def leader_wanted(self) -> None:
        """A leader-only job was defined: join the election if not in it yet."""
        if self._committer is not None and self.leader_topic not in self._topics:
            self._schedule_resubscribe()

    async def _set_leader(self, leader: bool) -> None:
        if leader == self.is_leader:
            return
        self.is_leader = leader
        logger.info(
            "app %s: this worker %s the leader",
            self.app.id,
            "is now" if leader else "is no longer",
        )
        await self.app.scheduler.leadership_changed(leader)

    # -- lifecycle ---------------------------------------------------------

    async def start(self) -> None:
        """Join the group with every agent topic; returns after the first assignment."""
        self._commit_lock = asyncio.Lock()
        self._assigned_once = asyncio.Event()
        self.tracker = OffsetTracker()
        self.fetched = {}
        self._routes = self._build_routes()
        self._topics = self._subscription()
        self.is_leader = False
        if self._topics:
            if self.leader_topic in self._topics:
                await self.app.transport.create_topic(self.leader_topic, 1)
            await self._open_consumer()
            await self._assigned_once.wait()
        else:
            # No agent yet (a notebook defines them later): nothing to join,
            # and no other worker to share with, so every table partition
            # is this worker's, and so is the leadership.
            await self.app.tables.recover(self.app.tables.all_partitions())
            self.is_leader = True
            self._assigned_once.set()
        loop = asyncio.get_running_loop()
        self._committer = loop.create_task(self._commit_loop())

    async def stop(self) -> None:
        """Stop fetching, commit what agents finished, leave the group."""
        # Never cancel a commit half-way: it has already taken the finished
        # offsets from the tracker and the changed keys from the tables, so
        # they would be neither committed now nor by the final commit below.
        async with self._commit_lock or asyncio.Lock():
            tasks = [t for t in (self._resubscribe, self._committer) if t is not None]
            for task in tasks:
                task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._resubscribe = self._committer = None
        await self.pause()
        try:
            await self.commit()
        except Exception as exc:
            logger.error(
                "final commit for group %s failed (%s): what was processed "
                "since the last commit will be processed again on restart",
                self.group_id,
                exc,
            )
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None
        self.assigned = set()
        self.is_leader = False

    async def _open_consumer(self) -> None:
        read_committed = self.app.conf.processing_guarantee == "exactly_once"
        self.consumer = self.app.transport.create_consumer(
            self.group_id, sorted(self._topics), self, read_committed=read_committed
        )
        await self.consumer.start()
        self._fetcher = asyncio.get_running_loop().create_task(self._fetch_loop())

    async def pause(self) -> None:
        """Stop fetching; what is buffered stays for the agents."""
        task, self._fetcher = self._fetcher, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # -- routing -----------------------------------------------------------

    def _build_routes(self) -> dict[str, list[Agent]]:
        # An agent that ended (its function returned) reads nothing: its
        # topic's offsets must not wait for it.
        routes: dict[str, list[Agent]] = defaultdict(list)
        for agent in self.app.agents.values():
            if not agent.returned:
                routes[agent.topic.name].append(agent)
        return dict(routes)

    def agents_changed(self) -> None:
        """Re-route after an agent was added, redefined or ended while running."""
        self._routes = self._build_routes()
        running = self._committer is not None
        if running and self._subscription() != self._topics:
            self._schedule_resubscribe()

    def _schedule_resubscribe(self) -> None:
        previous = self._resubscribe
        self._resubscribe = asyncio.get_running_loop().create_task(
            self._change_subscription(previous)
        )

    async def _change_subscription(self, previous: asyncio.Task[None] | None) -> None:
        # A consumer's topics are fixed, so a new topic means a new group
        # member: hand back the current partitions cleanly (drop what is
        # buffered, wait for in-flight events, commit) and join again.
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        topics = self._subscription()
        if topics == self._topics:
            return
        logger.info("subscribing to %s", ", ".join(sorted(topics)))
        for agent in self.app.agents.values():
            if agent.topic.name in topics and agent.topic.name not in self._topics:
                await self.app.declare_topic(agent.topic)
        if self.leader_topic in topics - self._topics:
            await self.app.transport.create_topic(self.leader_topic, 1)
        await self.pause()
        held = set(self.assigned) | ({self._leader_tp} if self.is_leader else set())
        await self.on_partitions_revoked(held)
        if self.consumer is not None:
            await self.consumer.stop()
        self._topics = topics
        self.consumer = None
        if topics:
            await self._open_consumer()

    # -- fetch and dispatch -------------------------------------------------

    async def _fetch_loop(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        max_records = self.app.conf.broker_max_poll_records
        while True:
            try:
                messages = await consumer.getmany(1.0, max_records)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception(
                    "fetching from group %s failed; retrying in 1s", self.group_id
                )
                await asyncio.sleep(1.0)
                continue
            if messages:
                await self._dispatch(messages)

    async def _dispatch(self, messages: list[Message]) -> None:
        routes = self._routes
        track = self.tracker.add
        monitor = self.app.monitor
        fetched = self.fetched
        deliveries: dict[Agent, list[Event]] = {}

        for message in messages:
            tp = TP(message.topic, message.partition)
            fetched[tp] = message.offset + 1
            agents = routes.get(message.topic)
            if not agents:
                # Its last agent ended or moved, and the consumer is about
                # to leave the topic: the offset stays uncommitted, so the
                # message is read again when an agent reads the topic again.
                track(tp, message.offset, 1).dropped = True
                continue
            pending = track(tp, message.offset, len(agents))
            for agent in agents:
                codec = agent.topic.codec
                try:
                    key = codec.loads_key(message.key)
                    value = codec.loads_value(message.value)
                except DecodeError as exc:
                    pending.remaining -= 1
                    self._report_undecodable(agent, message, exc)
                    continue
                batch = deliveries.get(agent)
                if batch is None:
                    batch = deliveries[agent] = []
                batch.append(Event(key, value, message, pending))

        monitor.on_messages_received(messages)
        for agent, events in deliveries.items():
            await agent.deliver(events)

    def _report_undecodable(self, agent: Agent, message: Message, exc: Exception):
        self.app.monitor.on_decode_error(message.topic, message.partition)
        preview = (message.value or b"")[:60]
        logger.warning(
            "skipped undecodable message %s[%d]@%d for agent %s: %s "
            "(value starts %r); fix the producer or the topic's value_type "
            "- the message is counted in monitor.decode_errors",
            message.topic,
            message.partition,
            message.offset,
            agent.name,
            exc,
            preview,
        )

    # -- commits -----------------------------------------------------------

    async def _commit_loop(self) -> None:
        interval = self.app.conf.broker_commit_interval
        while True:
            await asyncio.sleep(interval)
            try:
                await self.commit()
            except asyncio.CancelledError:
                raise
            except TransportError as exc:
                # A record the broker never stored: committing anything later
                # would skip it, so the App must stop rather than go on.
                self.app.fail(exc)
                return
            except Exception:
                logger.exception("commit for group %s failed", self.group_id)

    async def commit(self) -> dict[TP, int]:
        """Flush table changelogs, then commit every finished offset.

        Returns the offsets committed (next offset to read, per partition).
        """
        if self._commit_lock is None or self.app.producer is None:
            return {}
        async with self._commit_lock:
            started = time.monotonic()
            offsets = {
                tp: offset
                for tp, offset in self.tracker.committable().items()
                if tp in self.assigned
            }
            await self.app.tables.flush()
            producer = self.app.producer
            if self.app.conf.processing_guarantee == "exactly_once":
                await producer.commit_transaction(offsets, self.group_id)
            else:
                flush_started = time.monotonic()
                await producer.flush()
                self.app.monitor.on_flush(time.monotonic() - flush_started)
                if offsets and self.consumer is not None:
                    await self.consumer.commit(offsets)
            self.committed.update(offsets)
            self.app.monitor.on_commit(time.monotonic() - started)
            return offsets

    # -- rebalancing (the RebalanceListener protocol) ------------------------

    async def on_partitions_revoked(self, revoked: set[TP]) -> None:
        # Leader jobs stop before the partition goes: never two leaders.
        if self._leader_tp in revoked:
            await self._set_leader(False)
        revoked = revoked & self.assigned
        if not revoked:
            return
        logger.info("partitions revoked: %s", _describe(revoked))

        # Buffered events of these partitions will be read again by their
        # next owner from the committed offset; events already handed to an
        # actor are finished first, so nothing is processed twice.
        revoked_keys = {(tp.topic, tp.partition) for tp in revoked}
        for agent in self.app.agents.values():
            dropped = agent.buffer.drop(
                lambda e: (e.message.topic, e.message.partition) not in revoked_keys
            )
            for event in dropped:
                if event._pending is not None:
                    event._pending.dropped = True
        await self._wait_in_flight(revoked)

        await self.commit()
        self.assigned -= revoked
        self.tracker.forget(revoked)
        for tp in revoked:
            self.fetched.pop(tp, None)
        kept = {tp.partition for tp in self.assigned}
        self.app.tables.drop({tp.partition for tp in revoked} - kept)

    async def _wait_in_flight(self, tps: set[TP]) -> None:
        # Actors ack on their own schedule; there is no event to wait on, so
        # poll the tracker, briefly, for as long as the timeout allows.
        poll = 0.01
        for _ in range(int(REVOKE_TIMEOUT / poll)):
            if not self.tracker.in_flight(tps):
                return
            await asyncio.sleep(poll)
        if self.tracker.in_flight(tps):
            logger.warning(
                "partitions %s revoked while events were still being processed "
                "after %.0fs; they will be processed again by their new owner",
                _describe(tps),
                REVOKE_TIMEOUT,
            )

    async def on_partitions_assigned(self, assigned: set[TP]) -> None:
        # The leader partition is an election token, not data: tables and
        # offsets never see it.
        leader = self._leader_tp in assigned
        assigned = set(assigned) - {self._leader_tp}
        self.assigned = set(assigned)
        logger.info("partitions assigned: %s", _describe(assigned))
        partitions = {tp.partition for tp in assigned}
        self.app.tables.drop(self.app.tables.recovered - partitions)
        await self.app.tables.recover(partitions)
        self.app.monitor.on_rebalance()
        await self._set_leader(leader)
        if self._assigned_once is not None:
            self._assigned_once.set()

    # -- figures -------------------------------------------------------------

    async def lag(self) -> dict[TP, int]:
        """Per assigned partition: records on the broker this App has not
        finished with, from its oldest unfinished one (fetched and waiting
        for room in a buffer, buffered, or being processed) or else from
        what it fetched last; before a partition's first fetch, from the
        offset this App last committed (or all of them)."""
        if not self.assigned:
            return {}
        ends = await self.app.transport.end_offsets(self.assigned)
        return {tp: end - self._done_before(tp) for tp, end in ends.items()}

    def _done_before(self, tp: TP) -> int:
        unfinished = self.tracker.oldest_unfinished(tp)
        if unfinished is not None:
            return unfinished
        return self.fetched.get(tp, self.committed.get(tp, 0))


def _describe(tps: set[TP]) -> str:
    by_topic: dict[str, list[int]] = defaultdict(list)
    for tp in tps:
        by_topic[tp.topic].append(tp.partition)
    return (
        "; ".join(
            f"{topic}[{','.join(map(str, sorted(parts)))}]"
            for topic, parts in sorted(by_topic.items())
        )
        or "none"
    )
