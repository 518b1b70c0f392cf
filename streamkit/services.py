"""User services: :class:`mode.Service` subclasses that run with the App.

``@app.service`` registers a service class (or instance).  The order is
chosen so that a service can use everything the App offers:

- start: after the App is running (topics declared, producer started,
  first assignment done, agents started), before tasks, timers and
  crontabs, so a service's ``on_start`` can send and a task can rely on the
  services being up;
- stop: after tasks, timers and crontabs, before the agents, the consumer
  and the producer, so a service's ``on_stop`` can still send.

A service's ``@Service.task`` background tasks run from its start to its
stop, as mode runs them.  mode services cannot start twice, so a service
stopped with the App is reset (``service_reset()``) before the App starts
it again (a notebook's second ``await app.start()``).  Registering a service
of a class with the same qualified name replaces the previous one, which
is what re-running a notebook cell that defines it should do.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

import mode

from .exceptions import ConfigurationError

if TYPE_CHECKING:
    from .app import App

logger = logging.getLogger(__name__)


def _key(service: mode.Service) -> str:
    cls = type(service)
    return f"{cls.__module__}.{cls.__qualname__}"


class ServiceRegistry:
    """The App's user services, by class name, started and stopped in order."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.services: dict[str, mode.Service] = {}
        self.started = False

    def __iter__(self) -> Any:
        return iter(list(self.services.values()))

    def __len__(self) -> int:
        return len(self.services)

    def add(self, service: type[mode.Service] | mode.Service) -> mode.Service:
        """Register a service class (instantiated without arguments) or instance.

        Raises:
            ConfigurationError: ``service`` is not a :class:`mode.Service`
                subclass or instance.
        """
        if isinstance(service, type) and issubclass(service, mode.Service):
            instance = service()
        elif isinstance(service, mode.Service):
            instance = service
        else:
            raise ConfigurationError(
                f"app.service() takes a mode.Service subclass or instance, got "
                f"{service!r}; define `class MyService(mode.Service)` and "
                "decorate it with @app.service"
            )

        key = _key(instance)
        old = self.services.get(key)
        if old is instance:
            return instance
        self.services[key] = instance
        if self.started:
            self.app.spawn(self._replace(old, instance))
        return instance

    async def _replace(self, old: mode.Service | None, new: mode.Service) -> None:
        if old is not None:
            await self._stop_one(old)
        if self.started and self.services.get(_key(new)) is new:
            await self._start_one(new)

    async def start(self) -> None:
        """Start every service, in the order they were registered.

        Raises whatever a service's ``on_start`` raises, after stopping the
        services started before it.
        """
        self.started = True
        started: list[mode.Service] = []
        for service in list(self.services.values()):
            try:
                await self._start_one(service)
            except BaseException:
                for done in reversed(started):
                    await self._stop_one(done)
                self.started = False
                raise
            started.append(service)

    async def stop(self) -> None:
        """Stop every service, in the reverse order of their start."""
        self.started = False
        for service in reversed(list(self.services.values())):
            await self._stop_one(service)

    async def _start_one(self, service: mode.Service) -> None:
        if service.should_stop:
            service.service_reset()
        # A service built at import time has no loop yet, or the loop of an
        # earlier asyncio.run(); it must run on this one.  mode's lifecycle
        # events remember the loop they first waited on, so they are made
        # anew (unset, as service_reset() leaves them) for another loop.
        loop = asyncio.get_running_loop()
        moved = service._loop is not None and service._loop is not loop
        service.loop = loop
        if moved:
            service._started = service._new_started_event()
            service._stopped = service._new_stopped_event()
            service._shutdown = service._new_shutdown_event()
            service._crashed = service._new_crashed_event()
        logger.info("app %s: starting service %s", self.app.id, _key(service))
        await service.maybe_start()

    async def _stop_one(self, service: mode.Service) -> None:
        if not service.started:
            return  # mode's stop() itself ignores a second call
        logger.info("app %s: stopping service %s", self.app.id, _key(service))
        try:
            await service.stop()
        except Exception:
            logger.exception(
                "app %s: service %s failed to stop", self.app.id, _key(service)
            )
