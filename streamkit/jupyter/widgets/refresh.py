"""The one task that keeps every live view current, at a bounded rate.

Decisions:

- One task per event loop, not one per widget: a notebook that displays
  twenty views still wakes up at most ``TICK`` times a second.
- Each view says how often it wants refreshing (``view.interval``); agent
  figures and the sensor panel at 5 Hz, table views at 2 Hz.  A view sends
  nothing when its figures did not change, and sends all its changes in one
  message (``hold_sync``), so a busy pipeline costs the notebook at most a
  few messages per view per second however many events flow.
- Consumer lag needs the broker's end offsets, a network round trip on
  Kafka: it is read once a second per App (:class:`LagProbe`), in a task of
  its own so that a slow broker never holds the views up, and only while a
  view of that App is alive and the App runs.
- Views are held weakly; ipywidgets keeps a displayed widget alive until it
  is closed, and a closed widget is dropped here.  So that re-running a
  cell a hundred times does not leave a hundred views refreshing, a
  displayed object has one live top-level view: showing a new one closes
  the previous (:meth:`Refresher.displayed`), whose output then empties.
  The task ends when no view is left.  It lives in this module, which
  ``%reload_ext streamkit`` does not re-import, so a reload neither stops
  views nor starts a second task.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from typing import TYPE_CHECKING, Any, Protocol

import ipywidgets as widgets

from .text import text_of

if TYPE_CHECKING:
    from ...app import App

logger = logging.getLogger(__name__)

TICK = 0.1
LAG_INTERVAL = 1.0
LAG_TIMEOUT = 2.0


class View(Protocol):
    interval: float

    def refresh(self) -> None: ...


class LagProbe:
    """Consumer lag per topic of one App, fetched at most once a second."""

    def __init__(self, app: App) -> None:
        self._app = weakref.ref(app)
        self.by_topic: dict[str, int] = {}
        self._next = 0.0
        self._reading: asyncio.Task[None] | None = None

    def poll(self, now: float) -> None:
        """Start a read in the background when one is due and none is under
        way: a slow broker must not hold the views up."""
        if self._reading is None or self._reading.done():
            self._reading = asyncio.get_running_loop().create_task(self.update(now))

    async def update(self, now: float) -> None:
        app = self._app()
        if app is None or now < self._next:
            return
        self._next = now + LAG_INTERVAL
        if not app.is_running:
            return
        try:
            lag = await asyncio.wait_for(app.conductor.lag(), LAG_TIMEOUT)
        except Exception as exc:  # the broker is away: keep the last figures
            logger.debug("could not read consumer lag of %s: %s", app.id, exc)
            return
        by_topic: dict[str, int] = {}
        for tp, behind in lag.items():
            by_topic[tp.topic] = by_topic.get(tp.topic, 0) + max(behind, 0)
        self.by_topic = by_topic

    def lag(self, topic: str) -> int | None:
        return self.by_topic.get(topic)


class Refresher:
    """Refreshes registered views when they are due (see the module docstring)."""

    def __init__(self) -> None:
        self._views: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()
        self._probes: weakref.WeakKeyDictionary[App, LagProbe] = (
            weakref.WeakKeyDictionary()
        )
        self._task: asyncio.Task[None] | None = None
        self._displayed: dict[int, weakref.ref[Any]] = {}
        #: Views refreshed, and the seconds spent on it: what the widgets cost
        #: the loop the pipeline runs on (the lag reads, one a second, aside).
        self.refreshes = 0
        self.busy_seconds = 0.0

    def __len__(self) -> int:
        return len(self._views)

    def probe(self, app: App) -> LagProbe:
        """The lag probe of ``app``, shared by all its views."""
        probe = self._probes.get(app)
        if probe is None:
            probe = self._probes[app] = LagProbe(app)
        return probe

    def watch(self, view: View) -> None:
        """Refresh ``view`` from now on (and once right away)."""
        self._views[view] = 0.0
        self._refresh(view, time.monotonic())
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a plain script): whoever runs one calls refresh
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run(), name="streamkit-widgets")

    def displayed(self, target: object, view: Any) -> None:
        """``view`` is now the one shown for ``target``: close the previous."""
        previous = self._displayed.get(id(target))
        previous_view = previous() if previous is not None else None
        if previous_view is not None and previous_view is not view:
            previous_view.close()
            self.forget(previous_view)
        self._displayed[id(target)] = weakref.ref(view)

    def forget(self, view: View) -> None:
        self._views.pop(view, None)

    async def _run(self) -> None:
        while self._views:
            started = time.perf_counter()
            now = time.monotonic()
            for probe in list(self._probes.values()):
                probe.poll(now)
            for view, due in list(self._views.items()):
                if now >= due:
                    self._refresh(view, now)
            self.busy_seconds += time.perf_counter() - started
            await asyncio.sleep(TICK)

    def _refresh(self, view: Any, now: float) -> None:
        if getattr(view, "comm", True) is None:  # closed by the user
            self.forget(view)
            return
        self._views[view] = now + view.interval
        try:
            view.refresh()
        except Exception:
            # A view that cannot draw itself must not take the others down.
            logger.exception("%s stopped refreshing", type(view).__name__)
            self.forget(view)
        else:
            self.refreshes += 1


refresher = Refresher()


class LiveBox(widgets.VBox):
    """A box of widgets that :data:`refresher` keeps current until closed;
    subclasses set ``interval`` and define ``refresh()``, and call
    ``refresher.watch(self)`` once built."""

    interval: float = 1.0

    def describe(self) -> str:
        """The text shown where widgets cannot be (nbconvert, a terminal)."""
        return text_of(self.target)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        bundle = dict(super()._repr_mimebundle_(**kwargs) or {})
        bundle["text/plain"] = self.describe()
        return bundle

    def close(self) -> None:
        refresher.forget(self)
        super().close()
