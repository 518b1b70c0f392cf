"""Tasks, timers and crontabs: functions the App runs beside its agents.

A task runs once when the App is operational (its consumer has its first
assignment).  A timer runs every ``interval`` seconds on a fixed schedule
measured from its start, so the time its body takes does not make it drift;
when a run overlaps the next tick, the missed ticks are skipped and counted.
A crontab runs at the wall-clock times a cron expression names, in a time
zone (UTC unless told otherwise, as in Faust).  All of them can be redefined
while the App runs (a notebook re-running a cell).

``on_leader=True`` means one worker of the group runs the job: the leader
(see :meth:`streamkit.App.is_leader`).  A leader timer or crontab ticks on
every worker and runs its body only where the worker is the leader at that
tick, so a body that is running is never cut short by a rebalance.  A
leader task starts when its worker becomes the leader and is cancelled when
the worker stops being it; it starts again the next time, unless it already
returned during this run of the App.
"""

from __future__ import annotations

import asyncio
import contextvars
import datetime as dt
import inspect
import logging
import math
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .app import App

logger = logging.getLogger(__name__)

ErrorHook = Callable[[Any, BaseException], None]


class Scheduled:
    """A task or timer: its function and, while the App runs, its asyncio task."""

    kind = "task"

    def __init__(
        self,
        app: App,
        fun: Callable[..., Awaitable[Any]],
        *,
        name: str,
        context: contextvars.Context | None = None,
        on_leader: bool = False,
    ) -> None:
        if not inspect.iscoroutinefunction(fun):
            raise ConfigurationError(
                f"{self.kind} {name!r}: {fun!r} must be an `async def` function"
            )
        self.app = app
        self.fun = fun
        self.name = name
        self.context = context
        self.on_leader = bool(on_leader)
        self.runs = 0
        self.errors = 0
        self.error_hooks: list[ErrorHook] = []
        #: True once a task returned during the current run of the App, so a
        #: leader task is not run again when its worker regains leadership.
        self.finished = False
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        leader = " on_leader" if self.on_leader else ""
        return f"<{type(self).__name__} {self.name!r}{leader} runs={self.runs}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self.fun(*args, **kwargs)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def take_counts(self, replaced: Scheduled) -> None:
        """Go on counting from the job this one replaces."""
        self.runs, self.errors = replaced.runs, replaced.errors

    @property
    def waits_for_leadership(self) -> bool:
        """True for a job that starts only on the leader (a leader task)."""
        return self.on_leader

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        coro = self._main()
        if self.context is not None:
            self._task = self.context.run(loop.create_task, coro)
        else:
            self._task = loop.create_task(coro)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _invoke(self) -> None:
        # Faust lets a task take the app as its one argument.
        takes_app = len(inspect.signature(self.fun).parameters) >= 1
        try:
            await (self.fun(self.app) if takes_app else self.fun())
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.errors += 1
            self.app.monitor.on_task_error(self.name)
            logger.error(
                "%s %s raised %s",
                self.kind,
                self.name,
                type(exc).__name__,
                exc_info=not self.error_hooks,
                extra={"reported_by_hook": bool(self.error_hooks)},
            )
            for hook in list(self.error_hooks):
                hook(self, exc)
        finally:
            self.runs += 1

    def _leader_elsewhere(self) -> bool:
        """True when this job is for the leader and this worker is not it."""
        if self.on_leader and not self.app.is_leader():
            logger.debug("%s %s: not the leader, skipped", self.kind, self.name)
            return True
        return False

    async def _main(self) -> None:
        await self._invoke()
        self.finished = True


class Timer(Scheduled):
    """A periodic task on a fixed schedule."""

    kind = "timer"

    def __init__(
        self,
        app: App,
        fun: Callable[..., Awaitable[Any]],
        *,
        interval: float | dt.timedelta,
        name: str,
        context: contextvars.Context | None = None,
        on_leader: bool = False,
    ) -> None:
        if isinstance(interval, dt.timedelta):
            interval = interval.total_seconds()
        if (
            isinstance(interval, bool)
            or not isinstance(interval, (int, float))
            or not interval > 0
        ):
            raise ConfigurationError(
                f"timer {name!r}: interval must be a positive number of "
                f"seconds, got {interval!r}"
            )
        super().__init__(app, fun, name=name, context=context, on_leader=on_leader)
        self.interval = float(interval)
        self.skipped = 0

    def __repr__(self) -> str:
        leader = " on_leader" if self.on_leader else ""
        return f"<Timer {self.name!r} every {self.interval}s{leader} runs={self.runs}>"

    @property
    def waits_for_leadership(self) -> bool:
        return False  # it ticks everywhere and checks leadership per tick

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
            if not self._leader_elsewhere():
                await self._invoke()
            next_at += self.interval

            late = loop.time() - next_at
            if late > 0:
                missed = math.ceil(late / self.interval)
                self.skipped += missed
                next_at += missed * self.interval
                logger.warning(
                    "timer %s ran %.3gs late (its body, or other work on the "
                    "loop, took longer than its %.3gs interval); skipped %d "
                    "tick(s) to stay on schedule",
                    self.name,
                    late,
                    self.interval,
                    missed,
                )


def _zone(name: str, timezone: dt.tzinfo | str | None) -> dt.tzinfo:
    if timezone is None:
        return dt.timezone.utc
    if isinstance(timezone, dt.tzinfo):
        return timezone
    if isinstance(timezone, str):
        try:
            return ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    raise ConfigurationError(
        f"crontab {name!r}: timezone must be a tzinfo or an IANA zone name "
        f"such as 'Europe/Paris', got {timezone!r}"
    )


class Crontab(Scheduled):
    """A task run at the times a cron expression names.

    The expression has five fields (minute, hour, day of month, month, day of
    week) or six, the sixth being seconds (``"* * * * * */10"``: every ten
    seconds), as :mod:`croniter` reads them.  A run that lasts past the next
    matching time makes that time be skipped (counted in ``skipped``).
    """

    kind = "crontab"

    def __init__(
        self,
        app: App,
        fun: Callable[..., Awaitable[Any]],
        *,
        spec: str,
        timezone: dt.tzinfo | str | None = None,
        name: str,
        context: contextvars.Context | None = None,
        on_leader: bool = False,
    ) -> None:
        if not isinstance(spec, str) or not croniter.is_valid(spec):
            raise ConfigurationError(
                f"crontab {name!r}: {spec!r} is not a cron expression; write "
                "five fields 'minute hour day month weekday' (e.g. '0 9 * * "
                "mon-fri') and optionally a sixth for seconds ('* * * * * */10')"
            )
        super().__init__(app, fun, name=name, context=context, on_leader=on_leader)
        self.spec = spec
        self.timezone = _zone(name, timezone)
        self.skipped = 0

    def __repr__(self) -> str:
        leader = " on_leader" if self.on_leader else ""
        return (
            f"<Crontab {self.name!r} {self.spec!r} {self.timezone}{leader} "
            f"runs={self.runs}>"
        )

    @property
    def waits_for_leadership(self) -> bool:
        return False  # it ticks everywhere and checks leadership per tick

    def next_times(
        self, count: int, after: dt.datetime | None = None
    ) -> list[dt.datetime]:
        """The next ``count`` matching times after ``after`` (default: now)."""
        schedule = self._schedule(after or dt.datetime.now(self.timezone))
        return [next(schedule) for _ in range(count)]

    def _schedule(self, after: dt.datetime) -> Iterator[dt.datetime]:
        """Matching times after ``after``, as aware datetimes, in order.

        croniter walks naive wall-clock times, which zoneinfo then places:
        a time a DST jump skips runs at the instant after the jump, and a
        time a DST fall-back repeats runs once.  (Given aware datetimes,
        croniter 5 gets the day of a DST change wrong.)
        """
        local = after.astimezone(self.timezone).replace(tzinfo=None)
        wall = croniter(self.spec, local)
        last = after.timestamp()
        while True:
            when = wall.get_next(dt.datetime).replace(tzinfo=self.timezone)
            if when.timestamp() > last:
                last = when.timestamp()
                yield when

    async def _main(self) -> None:
        # Iterate the schedule rather than asking "what is next after now"
        # each time: a sleep that wakes a hair early must not run a time twice.
        for when in self._schedule(dt.datetime.now(self.timezone)):
            delay = when.timestamp() - time.time()
            if delay < 0:
                self.skipped += 1
                logger.warning(
                    "crontab %s skipped its run due at %s: the previous run "
                    "was still going",
                    self.name,
                    when.isoformat(),
                )
                continue
            await asyncio.sleep(delay)
            if not self._leader_elsewhere():
                await self._invoke()


class Scheduler:
    """The App's tasks, timers and crontabs, by name."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.jobs: dict[str, Scheduled] = {}
        self.started = False

    @property
    def has_leader_jobs(self) -> bool:
        """True when a job is for the leader only (so there must be one)."""
        return any(job.on_leader for job in self.jobs.values())

    def add(self, job: Scheduled) -> Scheduled:
        """Register a job; one with the same name is replaced (and restarted),
        and its counts (runs, errors) go on in the new one, as an agent's do
        when it is redefined."""
        old = self.jobs.get(job.name)
        if old is not None:
            job.take_counts(old)
        self.jobs[job.name] = job
        if job.on_leader:
            self.app.conductor.leader_wanted()
        if self.started:
            if old is not None:
                loop = asyncio.get_running_loop()
                loop.create_task(self._replace(old, job))
            elif self._may_start(job):
                job.start()
        return job

    def _may_start(self, job: Scheduled) -> bool:
        return not job.waits_for_leadership or (
            self.app.is_leader() and not job.finished
        )

    async def _replace(self, old: Scheduled, new: Scheduled) -> None:
        await old.stop()
        new.take_counts(old)  # a run the old job finished while it stopped
        if self.started and self.jobs.get(new.name) is new and self._may_start(new):
            new.start()

    def start(self) -> None:
        self.started = True
        for job in self.jobs.values():
            job.finished = False
            if self._may_start(job):
                job.start()

    async def stop(self) -> None:
        self.started = False
        await asyncio.gather(*(job.stop() for job in self.jobs.values()))

    async def leadership_changed(self, leader: bool) -> None:
        """Start the leader tasks on the new leader, stop them elsewhere."""
        waiting = [j for j in self.jobs.values() if j.waits_for_leadership]
        if not leader:
            await asyncio.gather(*(job.stop() for job in waiting))
        elif self.started:
            for job in waiting:
                if not job.running and not job.finished:
                    job.start()
