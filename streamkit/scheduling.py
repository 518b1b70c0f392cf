"""Tasks and timers: functions the App runs beside its agents.

A task runs once when the App is operational (its consumer has its first
assignment).  A timer runs every ``interval`` seconds on a fixed schedule
measured from its start, so the time its body takes does not make it drift;
when a run overlaps the next tick, the missed ticks are skipped and counted.
Both can be redefined while the App runs (a notebook re-running a cell).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import math
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

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
    ) -> None:
        if not inspect.iscoroutinefunction(fun):
            raise ConfigurationError(
                f"{self.kind} {name!r}: {fun!r} must be an `async def` function"
            )
        self.app = app
        self.fun = fun
        self.name = name
        self.context = context
        self.runs = 0
        self.errors = 0
        self.error_hooks: list[ErrorHook] = []
        self._task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} runs={self.runs}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Awaitable[Any]:
        return self.fun(*args, **kwargs)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

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
            )
            for hook in list(self.error_hooks):
                hook(self, exc)
        finally:
            self.runs += 1

    async def _main(self) -> None:
        await self._invoke()


class Timer(Scheduled):
    """A periodic task on a fixed schedule."""

    kind = "timer"

    def __init__(
        self,
        app: App,
        fun: Callable[..., Awaitable[Any]],
        *,
        interval: float,
        name: str,
        context: contextvars.Context | None = None,
    ) -> None:
        if not isinstance(interval, (int, float)) or not interval > 0:
            raise ConfigurationError(
                f"timer {name!r}: interval must be a positive number of "
                f"seconds, got {interval!r}"
            )
        super().__init__(app, fun, name=name, context=context)
        self.interval = float(interval)
        self.skipped = 0

    def __repr__(self) -> str:
        return f"<Timer {self.name!r} every {self.interval}s runs={self.runs}>"

    async def _main(self) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time() + self.interval
        while True:
            await asyncio.sleep(max(0.0, next_at - loop.time()))
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


class Scheduler:
    """The App's tasks and timers, by name."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.jobs: dict[str, Scheduled] = {}
        self.started = False

    def add(self, job: Scheduled) -> Scheduled:
        """Register a job; one with the same name is replaced (and restarted)."""
        old = self.jobs.get(job.name)
        self.jobs[job.name] = job
        if self.started:
            if old is not None:
                loop = asyncio.get_running_loop()
                loop.create_task(self._replace(old, job))
            else:
                job.start()
        return job

    async def _replace(self, old: Scheduled, new: Scheduled) -> None:
        await old.stop()
        if self.started and self.jobs.get(new.name) is new:
            new.start()

    def start(self) -> None:
        self.started = True
        for job in self.jobs.values():
            job.start()

    async def stop(self) -> None:
        self.started = False
        await asyncio.gather(*(job.stop() for job in self.jobs.values()))
