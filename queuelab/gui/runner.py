"""Drives the engine from the Qt event loop in short time-boxed slices.

The simulated engine is plain Python: called without limit it would hold the event loop
until the run ends. A pump timer instead hands it `budget` wall seconds at a time; at paced
speeds it fires every few milliseconds, at "as fast as possible" whenever the loop is idle
(interval 0), so input, painting and asyncio callbacks (qasync) get their turn between slices.

A live engine's backend is opened before the run starts, on the loop and with a time limit,
so an unreachable server is reported in a few seconds and the window never waits on it.
When the queue already holds tasks or dead letters, the run waits for the person's choice
(`found_tasks`, `resolve_found`): nothing in a queue is deleted without consent.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from queuelab.backends.base import BackendError
from queuelab.core.engine import RunState
from queuelab.core.handler_trust import handler_module
from queuelab.core.urls import describe_failure, redact_url
from queuelab.gui.engines import LIVE, SIMULATED, build_engine, close_handed_queue

if TYPE_CHECKING:
    from queuelab.core.engine import AppliedChange, Engine
    from queuelab.core.scenario import Scenario
    from queuelab.core.validation import ParamChange

log = logging.getLogger(__name__)

BUDGET = 0.008  # wall seconds per slice at most: well under a 30 Hz frame
MIN_BUDGET = 0.003  # … and at least, so the run still moves while the window is busy
TARGET_TURN = 0.010  # a slice plus whatever else the loop did since the last one
PACED_INTERVAL_MS = 10
EVENT_LOG = 10_000  # steps kept in the event log
OPEN_TIMEOUT = 10.0  # wall seconds to open a live run's backend (as `queuelab run`)
KEEP, FRESH, PURGE, CANCEL = "keep", "fresh", "purge", "cancel"  # what to do with found tasks


def spawn(coro: Coroutine[Any, Any, Any], what: str) -> None:
    """Run a coroutine on the running (qasync) loop; log if it fails.

    Without a running loop (a bare QApplication, as in a synchronous test) the coroutine is
    closed unrun: it only ever stops an engine the window has already let go of.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        coro.close()
        return
    task = loop.create_task(coro)

    def done(t: asyncio.Task[Any]) -> None:
        if not t.cancelled() and t.exception() is not None:
            log.error("%s failed", what, exc_info=t.exception())

    task.add_done_callback(done)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


_TASKS: set[asyncio.Task[Any]] = set()  # keeps spawned tasks alive until they finish
_ACTIVE = (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING)


async def _retire(engine: Engine) -> None:
    """Stop an engine the window lets go of, and close what it opened (a live backend)."""
    if engine.state in _ACTIVE:
        await engine.stop(drain=False)
    await engine.aclose()
    await close_handed_queue(engine)


class EngineRunner(QObject):
    """Owns the current engine; starts, pauses, steps and pumps it; reports what happened."""

    frames_ready = Signal(list)  # list[MetricsFrame], oldest first
    state_changed = Signal(object)  # RunState
    engine_replaced = Signal(object)  # the new Engine
    failed = Signal(str)  # an engine error, in words
    open_failed = Signal(str)  # a live backend could not be opened, in words
    notice = Signal(str)  # a live backend's warning once opened (e.g. it keeps nothing on disk)
    opening = Signal(bool)  # a live backend is being opened (True), or that is over
    #: the live queue just opened already holds tasks or dead letters (a FoundTasks): the
    #: run waits until `resolve_found` says what to do with them
    found_tasks = Signal(object)
    stepped = Signal(str)  # a step of the simulator, in words (also in `event_log`)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine: Engine | None = None
        self.kind = SIMULATED
        self.speed: float | None = 10.0
        self.budget = BUDGET
        self._state: RunState | None = None
        self._pump = QTimer(self)
        self._pump.timeout.connect(self._tick)
        self.slices = 0  # advance() calls, for the benchmarks
        self.wall_in_engine = 0.0
        self._last_end = 0.0  # when the previous slice ended
        self._opening: Engine | None = None  # the live engine whose backend is being opened
        self._asking: tuple[Engine, Callable[[], object]] | None = None  # waits for a choice
        #: the scenario URL with its password put back (the window's BackendSecrets.full)
        self.full_url: Callable[[str], str] = lambda url: url
        #: whether a live engine may import the scenario's handler module (the window asks)
        self.may_import: Callable[[Scenario], bool] = lambda scenario: True
        self.open_timeout = OPEN_TIMEOUT
        #: what each step of the current simulated run did, oldest first (Run > Event log)
        self.event_log: deque[str] = deque(maxlen=EVENT_LOG)

    # -- lifecycle ------------------------------------------------------------------------------

    def build(self, scenario: Scenario, kind: str | None = None) -> Engine:
        """Replace the engine by a new idle one for `scenario` (the old one is stopped)."""
        kind = kind or self.kind
        if kind == LIVE and scenario.service.handler.strip() and not self.may_import(scenario):
            raise PermissionError(f"the module {handler_module(scenario.service.handler)!r} "
                                  "that service.handler names was not allowed to be imported")
        # may raise: the caller shows why
        engine = build_engine(kind, scenario, self.full_url(scenario.queue.backend))
        self._drop()
        self.kind = kind
        self.engine = engine
        self.event_log.clear()
        self._apply_speed()
        self._state = None
        self.engine_replaced.emit(engine)
        self._check_state()
        return engine

    def _drop(self) -> None:
        old, self.engine = self.engine, None
        self._asking = None
        self._pump.stop()
        if old is not None and old is self._opening:
            # the coroutine opening its backend retires it once the open is over; the new
            # engine need not wait for that
            self._opening = None
            self.opening.emit(False)
            return
        if old is not None:
            spawn(_retire(old), "stopping the previous engine")

    def halt(self) -> None:
        """Stop pumping (the window closes); `shutdown` then stops the engine itself."""
        self._pump.stop()

    async def shutdown(self) -> None:
        """Stop the engine for good (the window is closing)."""
        self._pump.stop()
        engine, self.engine = self.engine, None
        if engine is not None:
            await _retire(engine)

    # -- commands -------------------------------------------------------------------------------

    def toggle(self) -> None:
        """Start, pause or resume, whichever the state calls for."""
        e = self.engine
        if e is None or self._opening is not None or self._asking is not None:
            return
        if e.state == RunState.IDLE and self._needs_open(e):
            self._begin_open(e, self.toggle)
            return
        try:
            if e.state == RunState.IDLE:
                e.start()
            elif e.state == RunState.RUNNING:
                e.pause()
            elif e.state == RunState.PAUSED:
                e.resume()
        except Exception as exc:  # an engine bug must not take the window down
            self.fail(exc)
            return
        self._check_state()

    def step(self) -> None:
        e = self.engine
        if (e is None or e.state not in (RunState.IDLE, RunState.PAUSED) or self._opening
                or self._asking is not None):
            return
        if e.state == RunState.IDLE and self._needs_open(e):
            self._begin_open(e, self.step)
            return
        describe: Callable[[], str] | None = getattr(e, "next_event", None)
        lines: list[str] = []
        try:
            if describe is not None and e.state == RunState.IDLE:
                lines.append(describe())
                e.start()  # a step from idle starts the run paused: it never sets it going
                e.pause()
            if describe is not None:
                lines.append(describe())
            e.step()
            frames = e.take_frames()
        except Exception as exc:
            self.fail(exc)
            return
        for line in lines:
            self.event_log.append(line)
            self.stepped.emit(line)
        if frames:
            self.frames_ready.emit(frames)
        self._check_state()

    @property
    def is_opening(self) -> bool:
        return self._opening is not None

    def _needs_open(self, e: Engine) -> bool:
        return not e.opened

    def _begin_open(self, e: Engine, then: Callable[[], object]) -> None:
        self._opening = e
        self.opening.emit(True)
        spawn(self._open_then(e, then), "opening the backend")

    async def _open_then(self, e: Engine, then: Callable[[], object]) -> None:
        """Open a live engine's backend within `open_timeout`, then start (or step) it.

        A failure is reported once (`open_failed`) and leaves the engine idle, so the person
        can fix the URL or start the server and press Start again.
        """
        url = self.full_url(e.scenario.queue.backend)
        shown = redact_url(url)
        problem = None
        try:
            async with asyncio.timeout(self.open_timeout):
                await e.open()
        except TimeoutError:
            problem = f"{shown}: no answer within {self.open_timeout:g} s"
        except Exception as exc:  # whatever a driver raises: this queue cannot be used now
            problem = describe_failure(exc, url, ours=isinstance(exc, BackendError))
        except asyncio.CancelledError:  # the loop is closing, the window perhaps gone
            self._opening = None
            raise
        finally:
            if self._opening is e:
                self._opening = None
                self.opening.emit(False)
        if self.engine is not e:  # replaced meanwhile: let the opened backend go too
            await _retire(e)
            return
        if problem is not None:
            log.warning("cannot open the queue: %s", problem)
            await _retire(e)  # closes what a half-open backend holds
            self.build(e.scenario, e.kind)  # a fresh idle engine: open() may be retried
            self.open_failed.emit(problem)
            return
        for text in e.notices:
            log.warning("%s", text)
            self.notice.emit(text)
        found = e.found
        if found:  # never touch what the queue holds without asking
            self._asking = (e, then)
            self.found_tasks.emit(found)
            return
        then()

    @property
    def asking(self) -> bool:
        """Waiting for the person to say what to do with what the queue holds."""
        return self._asking is not None

    @property
    def asking_step(self) -> bool:
        """… and a Step (not a Run) asked for the open."""
        return self._asking is not None and self._asking[1] == self.step

    def resolve_found(self, choice: str) -> None:
        """Go on after `found_tasks`: KEEP works them off as part of the run, PURGE deletes
        them first, CANCEL lets the opened engine go (the next Start opens and asks again)."""
        asking, self._asking = self._asking, None
        if asking is None or asking[0] is not self.engine:
            return
        e, then = asking
        if choice == KEEP:
            then()
        elif choice == PURGE:
            self._opening = e
            self.opening.emit(True)
            spawn(self._purge_then(e, then), "purging the queue")
        else:
            self.build(e.scenario, e.kind)

    async def _purge_then(self, e: Engine, then: Callable[[], object]) -> None:
        problem = None
        try:
            async with asyncio.timeout(self.open_timeout):
                await e.purge_found()
        except TimeoutError:
            problem = f"no answer within {self.open_timeout:g} s"
        except Exception as exc:  # the queue could not be emptied: nothing is started
            url = self.full_url(e.scenario.queue.backend)
            problem = describe_failure(exc, url, ours=isinstance(exc, BackendError))
        finally:
            if self._opening is e:
                self._opening = None
                self.opening.emit(False)
        if self.engine is not e:
            await _retire(e)
            return
        if problem is not None:
            await _retire(e)
            self.build(e.scenario, e.kind)
            self.open_failed.emit(f"the queue was not purged: {problem}")
            return
        then()

    def set_speed(self, speed: float | None) -> None:
        self.speed = speed
        self._apply_speed()
        self._update_pump()

    def _apply_speed(self) -> None:
        if self.engine is not None and self.engine.kind == SIMULATED:
            self.engine.set_speed(self.speed)

    def apply(self, change: ParamChange) -> AppliedChange:
        """Apply a change to the running engine; ScenarioError when refused."""
        assert self.engine is not None
        return self.engine.apply(change)

    # -- the pump -------------------------------------------------------------------------------

    def _update_pump(self) -> None:
        e = self.engine
        active = e is not None and e.state in (RunState.RUNNING, RunState.STOPPING)
        if not active:
            self._pump.stop()
            return
        interval = 0 if (self.speed is None and e is not None and e.kind == SIMULATED) \
            else PACED_INTERVAL_MS
        if not self._pump.isActive() or self._pump.interval() != interval:
            self._pump.start(interval)

    def _tick(self) -> None:
        e = self.engine
        if e is None:
            self._pump.stop()
            return
        began = time.perf_counter()
        # Whatever the loop did since the last slice (a repaint, asyncio callbacks) comes out
        # of this slice's budget, so one turn of the loop stays near TARGET_TURN and a timer
        # or coroutine waiting for its turn waits about that long at most.
        others = began - self._last_end if self._last_end else 0.0
        budget = min(self.budget, max(MIN_BUDGET, TARGET_TURN - others))
        try:
            e.advance(budget)
            frames = e.take_frames()
        except Exception as exc:
            self.fail(exc)
            return
        self._last_end = time.perf_counter()
        self.wall_in_engine += self._last_end - began
        self.slices += 1
        if frames:
            self.frames_ready.emit(frames)
        self._check_state()

    def _check_state(self) -> None:
        e = self.engine
        state = None if e is None else e.state
        if state != self._state:
            self._state = state
            self.state_changed.emit(state)
        self._update_pump()

    def fail(self, exc: BaseException) -> None:
        """Pause on an engine error and report it (`failed`); the window stays up."""
        log.exception("engine error", exc_info=exc)
        e = self.engine
        self._pump.stop()
        if e is not None and e.state == RunState.RUNNING:
            try:
                e.pause()
            except Exception:  # already broken; the message below says so
                log.exception("pausing the failed engine")
        self._check_state()
        self._pump.stop()
        self.failed.emit(f"{type(exc).__name__}: {exc}")
