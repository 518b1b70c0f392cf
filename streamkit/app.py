"""The App: a facade over topics, agents, tables, tasks and the broker.

It is a :class:`mode.Service`, so the same object starts inside a running
loop (``await app.start()`` in a notebook or test), as a worker that owns its
loop (``app.main()``), and with user services as its dependencies.  The work
itself lives in the registries it holds: :class:`~.conductor.Conductor`
(consuming and committing), :class:`~.tables.TableManager`,
:class:`~.scheduling.Scheduler` and the :class:`~.sensors.Monitor`.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any

import mode

from .agents import Agent
from .conductor import Conductor
from .embedding import app_starting, app_stopped
from .exceptions import ConfigurationError, StreamkitError
from .scheduling import Crontab, Scheduled, Scheduler, Timer
from .sensors import Monitor
from .services import ServiceRegistry
from .settings import Settings
from .tables import Table, TableManager
from .topics import Topic
from .transport import Producer, Transport, create_transport, redact_url
from .web import WebServer

logger = logging.getLogger(__name__)


class App(mode.Service):
    """A stream-processing application.

    Args:
        id: the application id; workers with the same id form one consumer
            group and share the work.
        **settings: see :class:`~streamkit.settings.Settings` (``broker``,
            ``datadir``, ``stream_buffer_maxsize``...).  An unknown setting
            raises :class:`~streamkit.exceptions.ConfigurationError` with a
            suggestion; ``STREAMKIT_<SETTING>`` environment variables override
            these arguments.
    """

    def __init__(self, id: str, **settings: Any) -> None:
        self.conf = Settings(id, **settings)
        self.id = self.conf.app_id
        self.monitor = Monitor(self)
        self.web = WebServer(self)
        self.agents: dict[str, Agent] = {}
        self.topics: dict[str, Topic] = {}
        self.tables = TableManager(self)
        self.scheduler = Scheduler(self)
        self.services = ServiceRegistry(self)
        self.conductor = Conductor(self)
        #: ``@app.command()`` commands by name (click.Command objects).
        self.commands: dict[str, Any] = {}
        self.transport: Transport | None = None
        self.producer: Producer | None = None
        self._running = False
        self._starting: asyncio.Future[None] | None = None
        #: Why the App stopped itself (see :meth:`fail`), or None.
        self.failure: BaseException | None = None
        self._failed: asyncio.Event | None = None
        self._failing: asyncio.Task[None] | None = None
        self._spawned: set[asyncio.Task[Any]] = set()
        super().__init__()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        if not self._running and self.failure is not None:
            state += f" after {describe_failure(self.failure)}"
        return f"<App {self.id!r} broker={redact_url(self.conf.broker)!r} {state}>"

    @property
    def is_starting(self) -> bool:
        """True while ``start()`` is in progress."""
        return self._starting is not None

    @property
    def is_running(self) -> bool:
        """True between the end of ``start()`` and the beginning of ``stop()``."""
        return self._running

    def is_leader(self) -> bool:
        """True while this worker is its group's leader (a method, as in Faust).

        The leader runs the ``on_leader=True`` tasks, timers and crontabs; see
        :mod:`streamkit.conductor` for the election.  False while the App is
        not running.
        """
        return self._running and self.conductor.is_leader

    # -- definitions -----------------------------------------------------------

    def topic(
        self,
        name: str,
        *,
        key_type: Any = None,
        value_type: Any = None,
        partitions: int | None = None,
        key_serializer: str | None = None,
        value_serializer: str | None = None,
    ) -> Topic:
        """Describe a topic; it is created on the broker when the App starts."""
        topic = Topic(
            self,
            name,
            key_type=key_type,
            value_type=value_type,
            partitions=partitions,
            key_serializer=key_serializer,
            value_serializer=value_serializer,
        )
        self.topics.setdefault(name, topic)
        if self._running:
            self.spawn(self.declare_topic(topic))
        return topic

    def agent(
        self,
        channel: Topic | str | None = None,
        *,
        name: str | None = None,
        concurrency: int = 1,
        sink: Iterable[Any] | Any = None,
        context: contextvars.Context | None = None,
    ) -> Callable[[Callable[..., Any]], Agent]:
        """Decorate ``async def f(stream)`` to process a topic.

        The function loops over its stream (``async for value in stream:``)
        for as long as the App runs.  One that returns ends the agent: it
        stops reading the topic, the events left in its buffer are
        committed without it and counted in ``agent.skipped``, and a warning
        says so; defining the agent again starts it again.

        Args:
            channel: a Topic, a topic name, or None for an anonymous topic
                named ``{app_id}-{agent_name}``.
            name: the agent name (default: the function name).  Defining an
                agent with a name that exists replaces the running function
                without losing or repeating a message.
            concurrency: how many actors process the stream at once.
            sink: agents, topics or callables each value ``yield``-ed by the
                function is forwarded to (with the current event's key).
            context: a :mod:`contextvars` context to run the actors in (the
                notebook uses it to show output under the defining cell).
        """
        sinks = _as_list(sink)

        def decorate(fun: Callable[..., Any]) -> Agent:
            agent_name = name or fun.__name__
            topic = self._agent_topic(channel, agent_name)
            existing = self.agents.get(agent_name)
            if existing is not None and existing.topic.name == topic.name:
                existing.redefine(
                    fun, concurrency=concurrency, sinks=sinks, context=context
                )
                existing.topic = topic
                return existing

            agent = Agent(
                self,
                fun,
                name=agent_name,
                topic=topic,
                concurrency=concurrency,
                sinks=sinks,
                context=context,
            )
            self.agents[agent_name] = agent
            if existing is not None:
                self.spawn(self._retire_agent(existing))
            if self._running:
                agent.start()
                self.conductor.agents_changed()
            return agent

        return decorate

    def _agent_topic(self, channel: Topic | str | None, agent_name: str) -> Topic:
        if channel is None:
            return self.topic(f"{self.id}-{agent_name}")
        if isinstance(channel, str):
            # A name the App already describes keeps its key and value types.
            return self.topics.get(channel) or self.topic(channel)
        if isinstance(channel, Topic):
            self.topics.setdefault(channel.name, channel)
            return channel
        raise ConfigurationError(
            f"agent {agent_name!r}: channel must be a topic name, an "
            f"app.topic(...) or None, got {channel!r}"
        )

    async def _retire_agent(self, agent: Agent) -> None:
        await agent.stop()
        # The agent is gone: what it had buffered is done as far as its
        # offsets are concerned.
        for event in agent.buffer.drop(lambda e: False):
            event.ack()
        if self._running:
            self.conductor.agents_changed()

    def task(
        self,
        fun: Callable[..., Coroutine[Any, Any, Any]] | None = None,
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
        on_leader: bool = False,
    ) -> Any:
        """Run ``async def f()`` (or ``f(app)``) once the App is operational.

        Usable as ``@app.task`` and ``@app.task()``.  With ``on_leader=True``
        it runs on the group's leader only: it starts when this worker
        becomes the leader and is cancelled when it stops being it (see
        :mod:`streamkit.scheduling`).
        """

        def decorate(f: Callable[..., Coroutine[Any, Any, Any]]) -> Scheduled:
            job = Scheduled(
                self, f, name=name or f.__name__, context=context, on_leader=on_leader
            )
            self.scheduler.add(job)
            return job

        return decorate(fun) if fun is not None else decorate

    def timer(
        self,
        interval: float | datetime.timedelta,
        *,
        name: str | None = None,
        context: contextvars.Context | None = None,
        on_leader: bool = False,
    ) -> Callable[[Callable[..., Coroutine[Any, Any, Any]]], Timer]:
        """Run ``async def f()`` every ``interval`` seconds while the App runs.

        With ``on_leader=True`` only the group's leader runs the body.
        Defining a timer with an existing name replaces it.

        Raises:
            ConfigurationError: ``interval`` is not a positive number.
        """

        def decorate(f: Callable[..., Coroutine[Any, Any, Any]]) -> Timer:
            job = Timer(
                self,
                f,
                interval=interval,
                name=name or f.__name__,
                context=context,
                on_leader=on_leader,
            )
            self.scheduler.add(job)
            return job

        return decorate

    def crontab(
        self,
        cron_format: str,
        *,
        timezone: datetime.tzinfo | str | None = None,
        on_leader: bool = False,
        name: str | None = None,
        context: contextvars.Context | None = None,
    ) -> Callable[[Callable[..., Coroutine[Any, Any, Any]]], Crontab]:
        """Run ``async def f()`` at the times the cron expression names.

        Args:
            cron_format: five fields (``"0 9 * * mon-fri"``), or six with
                seconds last (``"* * * * * */10"``).
            timezone: a :class:`datetime.tzinfo` or an IANA name
                (``"Europe/Paris"``); UTC by default, as in Faust.
            on_leader: run on the group's leader only.
            name: the job name (default: the function name); defining a
                crontab with an existing name replaces it.

        Raises:
            ConfigurationError: a bad expression or time zone.
        """

        def decorate(f: Callable[..., Coroutine[Any, Any, Any]]) -> Crontab:
            job = Crontab(
                self,
                f,
                spec=cron_format,
                timezone=timezone,
                name=name or f.__name__,
                context=context,
                on_leader=on_leader,
            )
            self.scheduler.add(job)
            return job

        return decorate

    def Table(  # noqa: N802 - Faust's spelling, kept for compatibility
        self,
        name: str,
        *,
        default: Callable[[], Any] | None = None,
        key_type: Any = None,
        value_type: Any = None,
        partitions: int | None = None,
        help: str | None = None,
    ) -> Table:
        """A table called ``name``; defining it again returns the same table."""
        return self.tables.add(
            name,
            default=default,
            key_type=key_type,
            value_type=value_type,
            partitions=partitions,
            help=help,
        )

    def command(
        self, *options: Any, name: str | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., Any]], Any]:
        """Add a subcommand to ``streamkit -A module`` and ``python module.py``.

        ``@app.command(option("--count", type=int), argument("name"))`` with
        ``option``/``argument`` from :mod:`streamkit.cli` (click's own).  The
        command is named after the function (``_`` becomes ``-``) unless
        ``name`` is given, and its docstring is its ``--help``.  An ``async
        def`` runs on a new loop; the App is not started for it (start it in
        the command with ``async with app.running():`` when it needs to).
        Defining a command again replaces it.  Returns the click.Command.
        """
        from .cli.app_commands import build_command

        def decorate(fun: Callable[..., Any]) -> Any:
            command = build_command(self, fun, options, name=name, **kwargs)
            self.commands[command.name] = command
            return command

        return decorate

    def page(self, path: str, *, name: str | None = None) -> Callable[[Any], Any]:
        """Serve ``async def view(web, request)`` or a ``streamkit.web.View``
        subclass at ``path`` (``/orders/{id}/``) on the App's web server.

        Pages may be defined while the App runs; see :mod:`streamkit.web`.
        """
        return self.web.page(path, name=name)

    def service(self, cls: type[mode.Service] | mode.Service) -> type[mode.Service]:
        """Run a :class:`mode.Service` with the App; returns its class.

        Takes a subclass (instantiated without arguments, as ``@app.service``
        does) or an instance.  It starts once the App is running, before
        tasks and timers, and stops before the App's consumer and producer;
        see :mod:`streamkit.services`.

        Raises:
            ConfigurationError: ``cls`` is not a mode.Service class or instance.
        """
        return type(self.services.add(cls))

    # -- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Start on the running loop; returns once the App processes messages.

        Starting a running App does nothing.  A stopped App, or one whose
        start failed, starts afresh: a failed start releases what it had
        opened (connections, consumer, actors, tasks) before it raises, so
        calling ``start()`` again is a real retry.

        Raises:
            TransportError: the broker cannot be reached.
            Exception: whatever a user service's start raised.
        """
        if self._running:
            return
        if self._starting is not None:
            await asyncio.shield(self._starting)
            return
        # mode.Service starts once; stop() leaves it stopped, and reset
        # makes it startable again (a failed start is stopped below).
        if self.should_stop or self._started.is_set():
            self.service_reset()
        self.failure = None
        self._failed = None
        loop = self.loop = asyncio.get_running_loop()
        self._starting = loop.create_future()
        try:
            await app_starting(self)
            await super().start()
        except BaseException as exc:
            await self._abandon_start(exc)
            self._starting.set_exception(exc)
            self._starting.exception()  # retrieved: the caller gets it below
            raise
        else:
            self._starting.set_result(None)
        finally:
            self._starting = None

    async def _abandon_start(self, exc: BaseException) -> None:
        # Whatever the failed attempt opened (transport, producer, consumer,
        # actors, web server) is closed by the ordinary stop, which copes with
        # the parts that never started; the next start() then resets mode's
        # state and begins from scratch.
        logger.info("app %s: start failed (%s); releasing what it opened", self.id, exc)
        try:
            await self.stop()
        except Exception:
            logger.exception("app %s: cleaning up after a failed start failed", self.id)
        finally:
            app_stopped(self)

    async def on_start(self) -> None:
        conf = self.conf
        logger.info("app %s: starting on %s", self.id, redact_url(conf.broker))
        self.monitor = Monitor(self)
        self.transport = create_transport(
            conf.broker,
            credentials=conf.broker_credentials,
            default_partitions=conf.topic_partitions,
            client_id=self.id,
        )
        await self.transport.start()

        exactly_once = conf.processing_guarantee == "exactly_once"
        self.producer = self.transport.create_producer(
            transactional_id=f"{self.id}-producer" if exactly_once else None
        )
        await self.producer.start()

        for topic in list(self.topics.values()):
            await self.declare_topic(topic)
        for table in self.tables:
            await self.declare_topic(table.changelog)

        await self.conductor.start()
        for agent in self.agents.values():
            agent.start()
        await self.web.start()
        self._running = True

    async def on_started(self) -> None:
        self.spawn(self.monitor.sample_forever())
        await self.services.start()
        self.scheduler.start()
        logger.info("app %s: running", self.id)

    async def on_stop(self) -> None:
        logger.info("app %s: stopping", self.id)
        self._running = False
        await self.web.stop()
        await self.scheduler.stop()
        await self.services.stop()
        for task in list(self._spawned):
            task.cancel()
        await asyncio.gather(*self._spawned, return_exceptions=True)

        # Order matters: stop fetching, let actors finish the event they
        # hold, commit what is finished, then drop what is still buffered
        # (it is read again from the committed offset next time).
        await self.conductor.pause()
        await asyncio.gather(*(agent.stop() for agent in self.agents.values()))
        await self.conductor.stop()
        for agent in self.agents.values():
            agent.buffer.drop(lambda e: False)

        if self.producer is not None:
            await self.producer.stop()
            self.producer = None
        if self.transport is not None:
            await self.transport.stop()
            self.transport = None
        app_stopped(self)
        logger.info("app %s: stopped", self.id)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[App]:
        """``async with app.running():`` starts the App and stops it after."""
        await self.start()
        try:
            yield self
        finally:
            await self.stop()

    def main(self, argv: list[str] | None = None) -> None:
        """Run the ``streamkit`` command line for this App.

        ``python module.py worker`` then starts a worker, as in Faust.
        """
        from .cli import main

        main(argv, app=self)

    # -- helpers used by the parts ----------------------------------------------

    def fail(self, exc: BaseException) -> None:
        """Stop the App because of ``exc``, which it cannot recover from.

        Used when going on would break the processing guarantee (a record
        the broker never stored).  A worker then exits with an error; in a
        notebook the App stops and ``app.failure`` says why.
        """
        if self.failure is not None:
            return
        self.failure = exc
        logger.error(
            "app %s: stopping after an error it cannot recover from: %s; "
            "offsets after the last successful commit will be processed again "
            "on restart",
            self.id,
            exc,
        )
        if self._failed is not None:
            self._failed.set()
        # Not spawned: stop() cancels what the App spawned.
        self._failing = asyncio.get_running_loop().create_task(self.stop())

    async def wait_failed(self) -> BaseException:
        """Wait until the App stopped itself with :meth:`fail`; returns why."""
        if self._failed is None:
            self._failed = asyncio.Event()
        if self.failure is None:
            await self._failed.wait()
        if self._failing is not None:
            await asyncio.shield(self._failing)
        assert self.failure is not None
        return self.failure

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """Run ``coro`` as a task the App cancels when it stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned_done)
        return task

    def _spawned_done(self, task: asyncio.Task[Any]) -> None:
        self._spawned.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "app %s: background work failed", self.id, exc_info=task.exception()
            )

    async def declare_topic(self, topic: Topic) -> None:
        """Create ``topic`` on the broker unless it exists."""
        assert self.transport is not None
        await self.transport.create_topic(
            topic.name, topic.partition_count, compacted=topic.compacted
        )

    async def ready_producer(self, topic: Topic) -> Producer:
        """The producer; waits while the App is starting, so a notebook cell
        right after ``%streamkit start`` can send."""
        if self.producer is None or not self._running:
            if self._starting is not None:
                await asyncio.shield(self._starting)
        return self.producer_for(topic)

    def producer_for(self, topic: Topic) -> Producer:
        """The producer, or a clear error when the App is not running."""
        if self.producer is None:
            raise StreamkitError(
                f"cannot send to topic {topic.name!r}: app {self.id!r} is not "
                "running. Start it first with `await app.start()` (in a "
                "notebook: %streamkit start)."
            )
        return self.producer

    async def commit(self) -> dict[Any, int]:
        """Flush table changelogs and commit finished offsets now."""
        return await self.conductor.commit()


def describe_failure(exc: BaseException) -> str:
    """``TransportError: <message>``: why an App stopped itself, for status lines."""
    return f"{type(exc).__name__}: {exc}"


def _as_list(sink: Iterable[Any] | Any) -> list[Any]:
    if sink is None:
        return []
    if isinstance(sink, (list, tuple, set)):
        return list(sink)
    return [sink]
