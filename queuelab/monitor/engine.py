"""The monitor engine: a real queue watched, never touched, on the same frames as the others.

It implements `core.engine.Engine` as the simulated and live engines do, so the window and
the CLI drive it the same way; what differs, and why:

* it owns no queue: every `interval` wall seconds it asks its read-only `Source` for one
  `Sample` and turns it into a `MetricsFrame` (ready → depth, unacked/started → in flight,
  failed/dead → dead letters, delayed → retrying, consumers → workers, rates derived in
  `core.monitoring`). What the source cannot see is NaN, so the plots show nothing rather
  than a false 0;
* a poll that fails (server away, wrong credentials, unknown queue) yields a frame of NaN:
  a gap in the plots, not a line across; `status` says why, and the next poll tries again
  by itself. Only an error polling cannot fix (a bad option) stops it;
* there are no knobs (`apply` refuses) and no dead-letter actions (`reprocess` and
  `discard` refuse: the monitor never writes); time is the wall clock (`set_speed` refuses);
* `totals()` are the visible books: what the source shows now, done = its completions
  counter where it has one; they balance by construction and say nothing of the past;
* every sample goes to the history store, when one is given, and through the alert rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from queuelab.core.engine import (
    AppliedChange,
    Engine,
    EngineFacts,
    FoundTasks,
    RunState,
    Totals,
    WorkerInfo,
)
from queuelab.core.metrics import FRAME_COLUMNS, MetricsFrame, RunSummary
from queuelab.core.monitoring import (
    Alert,
    AlertRules,
    AlertWatch,
    Rates,
    Sample,
    gap,
    rates,
)
from queuelab.core.scenario import QueueConfig, RunConfig, Scenario
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery
from queuelab.core.validation import FieldError, ParamChange, ScenarioError
from queuelab.sources.base import Source, SourceError

if TYPE_CHECKING:
    from queuelab.io.history import HistoryStore

log = logging.getLogger(__name__)

NAN = math.nan
FRAME_BUFFER = 100_000
UNBOUNDED = 10.0 * 365 * 86400.0  # a watch runs until stopped: ten years stands for that
READ_TIMEOUT_FACTOR = 3.0  # a read may take this many intervals (at least 5 s) before it
# counts as failed
READ_ONLY = "the monitor is read-only: it never changes the queue it watches"


BACKFILL_POINTS = 2000


def _i(v: float | None) -> int | None:
    return None if v is None else round(v)


def _n(v: int | float | None) -> float:
    return NAN if v is None else float(v)


def frame_of(s: Sample, r: Rates, t: float) -> MetricsFrame:
    """The frame a sample makes at scenario time `t` (seconds since the watch began).

    Built by field name: every field the source cannot see is NaN.
    """
    values: dict[str, Any] = dict.fromkeys(FRAME_COLUMNS, NAN)
    values["t"] = t
    if s.reachable:
        values.update(
            depth=_n(s.ready), in_flight=_n(s.in_flight), workers=_n(s.consumers),
            busy=(NAN if s.in_flight is None or s.consumers is None
                  else min(s.in_flight, s.consumers)),
            arrival_rate=r.arrival, throughput=r.completion, dead_letters=_n(s.failed),
            retrying=_n(s.delayed), done=_n(s.completed), breaker_open=0)
    return MetricsFrame(**values)


class MonitorEngine(EngineFacts):
    """Polls a read-only `Source`; implements `core.engine.Engine`."""

    kind = "monitor"

    def __init__(self, source: Source, *, interval: float = 5.0,
                 history: HistoryStore | None = None, rules: AlertRules | None = None,
                 duration: float | None = None,
                 on_alert: Callable[[Alert], None] | None = None) -> None:
        if not interval > 0.0 or not math.isfinite(interval):
            raise ScenarioError(FieldError("interval", f"must be a positive number of "
                                           f"seconds, not {interval!r}"))
        self.source = source
        self.interval = interval
        self.history = history
        self.rules = rules or AlertRules()
        self._alerts = AlertWatch(self.rules)
        self._on_alert = on_alert
        self._end = UNBOUNDED if duration is None else duration
        self._scenario = Scenario(
            name=f"Monitor {source.queue or 'query'}",
            run=RunConfig(duration=self._end, warmup=0.0, sample_interval=interval),
            queue=QueueConfig(backend=source.url),
        )
        self._state = RunState.IDLE
        self._frames: deque[MetricsFrame] = deque(maxlen=FRAME_BUFFER)
        self._task: asyncio.Task[None] | None = None
        self._t0 = 0.0  # wall-clock start (time.time())
        self._paused_at: float | None = None
        self._paused_total = 0.0
        self._prev: Sample | None = None
        self._last: Sample | None = None
        self._polls = 0
        self._gaps = 0
        self._arrived = 0.0  # integral of the arrival rate: tasks seen arriving
        self._completed = 0.0
        self._opened = False
        self.alerts: list[Alert] = []
        self._markers: list[AppliedChange] = []
        self.backfill = 3600.0  # seconds of history shown at start, before the first poll
        self.last_frame: MetricsFrame | None = None
        self.error: BaseException | None = None  # a lasting failure that stopped the watch
        self._error_reported = False
        self.status = f"{source.url}: not started"

    def set_alert_rules(self, rules: AlertRules) -> None:
        """New alert rules from the next poll on (the window's Alert rules…); an alert in
        progress under the old rules is forgotten, so a still-true condition fires anew."""
        self.rules = rules
        self._alerts = AlertWatch(rules)

    # ------------------------------------------------------------------ the Engine protocol

    @property
    def now(self) -> float:
        if self._state is RunState.IDLE:
            return 0.0
        wall = self._paused_at if self._paused_at is not None else time.time()
        return min(self._end, wall - self._t0 - self._paused_total)

    @property
    def changes(self) -> Sequence[AppliedChange]:
        """The alerts, as markers on the plots (`AppliedChange.label` gives their text)."""
        return self._markers

    @property
    def started_at(self) -> float:
        """The wall-clock second (time.time()) scenario time 0 stands for."""
        return self._t0

    @property
    def last_sample(self) -> Sample | None:
        return self._last

    @property
    def polls(self) -> int:
        return self._polls

    @property
    def gaps(self) -> int:
        """Polls that could not read the source."""
        return self._gaps

    @property
    def opened(self) -> bool:
        return self._opened

    @property
    def found(self) -> FoundTasks:
        """Nothing to take over: what the queue holds is watched, never worked or purged."""
        return FoundTasks()

    async def purge_found(self) -> FoundTasks:
        raise ScenarioError(FieldError("queue.backend", READ_ONLY))

    @property
    def shared(self) -> str | None:
        return "a monitored queue is worked by others; the monitor only reads it"

    @property
    def notices(self) -> Sequence[str]:
        return ()  # how it reads is in `status`, which the window shows as it changes

    @property
    def audit_failures(self) -> Sequence[tuple[float, str]]:
        return ()  # the books are the source's own

    def reference(self) -> None:
        return None  # a queue someone else runs: no M/M/c to compare with

    async def open(self) -> None:
        if not self._opened:
            await self.source.open()
            self._opened = True

    async def run_slice(self, budget: float) -> None:
        """Wait about `budget` wall seconds while the polls go on (less when it ends)."""
        task = self._task
        if task is None or task.done():
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), budget)

    async def wait(self) -> None:
        """Until the watch ends (its duration, or `stop`); raises a lasting error."""
        task = self._task
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.error is not None:
            raise self.error

    def start(self) -> None:
        if self._state is not RunState.IDLE:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("MonitorEngine.start() needs a running asyncio event loop"
                               ) from None
        self._t0 = time.time()
        self._replay_history()
        self._state = RunState.RUNNING
        self.status = f"{self.source.url}: connecting"
        self._task = loop.create_task(self._run())

    def pause(self) -> None:
        """Stop polling (the queue goes on; the pause shows as a gap in the history)."""
        if self._state is RunState.RUNNING:
            self._state = RunState.PAUSED
            self._paused_at = time.time()

    def resume(self) -> None:
        if self._state is RunState.PAUSED and self._paused_at is not None:
            self._paused_total += time.time() - self._paused_at
            self._paused_at = None
            self._state = RunState.RUNNING

    async def stop(self, drain: bool = True) -> None:
        """Stop watching; there is nothing to drain."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._state = RunState.FINISHED
        await self.aclose()

    async def aclose(self) -> None:
        if self._opened:
            self._opened = False
            await self.source.close()

    def step(self) -> bool:
        """Poll once now (on the running loop); False once finished."""
        if self._state is RunState.FINISHED:
            return False
        asyncio.get_running_loop().create_task(self.poll())
        return True

    def set_speed(self, speed: float | None) -> None:
        raise ScenarioError(FieldError("speed", "a monitored queue runs on the wall clock"))

    def advance(self, budget: float) -> None:
        """Nothing to compute; re-raises, once, the lasting error that stopped the watch."""
        if self.error is not None and not self._error_reported:
            self._error_reported = True
            raise self.error

    def apply(self, change: ParamChange) -> AppliedChange:
        raise ScenarioError(FieldError(change.path, f"{READ_ONLY}: it has no knobs"))

    def take_frames(self) -> list[MetricsFrame]:
        out = list(self._frames)
        self._frames.clear()
        return out

    def workers(self) -> list[WorkerInfo]:
        return []  # consumers belong to someone else; their count is in the frames

    def totals(self) -> Totals:
        s = self._last
        if s is None or not s.reachable:
            return Totals(0, 0, 0, 0, 0, 0)
        waiting, in_flight = s.ready or 0, s.in_flight or 0
        retrying, dead, done = s.delayed or 0, s.failed or 0, int(s.completed or 0)
        return Totals(waiting + in_flight + retrying + done + dead, waiting, in_flight,
                      retrying, done, dead)

    def summary(self) -> RunSummary:
        now = self.now
        return RunSummary(
            start=0.0, end=now, duration=now, arrived=round(self._arrived),
            completed=round(self._completed), failed_attempts=0, retries=0,
            dead_lettered=(self._last.failed or 0) if self._last else 0, reprocessed=0,
            waits=0, mean_wait=NAN, mean_wait_ci95=NAN, wait_p50=NAN, wait_p95=NAN,
            wait_p99=NAN, max_wait=NAN, mean_service=NAN, utilization=NAN,
            worker_seconds=NAN, throughput=self._completed / now if now > 0 else NAN,
            mean_workers=NAN, peak_workers=0, worker_starts=0, scale_events=0,
        ).with_extras(source=self.source.url, method=self.source.method, polls=self._polls,
                      gaps=self._gaps, rates=self.source.derivation.text)

    async def dead_letters(self, query: DeadLetterQuery) -> DeadLetterPage:
        return DeadLetterPage(items=(), total_matching=0, total=0)

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        return None

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        raise ScenarioError(FieldError("dead_letters.reprocess", READ_ONLY))

    async def discard(self, task_ids: Sequence[str]) -> int:
        raise ScenarioError(FieldError("dead_letters.discard", READ_ONLY))

    # ------------------------------------------------------------------ polling

    def _replay_history(self) -> None:
        """The past `backfill` seconds from the history as frames before time 0: reopening
        a source shows its past at once (folded to at most `BACKFILL_POINTS` frames)."""
        if self.history is not None and self.backfill > 0:
            self._frames.extend(self.past_frames(self._t0 - self.backfill, self._t0))

    def past_frames(self, start: float, end: float) -> list[MetricsFrame]:
        """Frames of the history between two wall-clock seconds, at most `BACKFILL_POINTS`
        (folded), timed like the watch's own (seconds from its start, negative before)."""
        if self.history is None:
            return []
        out: list[MetricsFrame] = []
        d = self.history.load(start, end, max_points=BACKFILL_POINTS)
        for i in range(len(d["t"])):
            def v(c: str, i: int = i) -> float | None:
                x = float(d[c][i])
                return None if math.isnan(x) else x

            t = float(d["t"][i])
            if d["reachable"][i] != 1:
                out.append(frame_of(gap(t, "unreachable"), Rates(NAN, NAN), t - self._t0))
                continue
            s = Sample(t=t, ready=_i(v("ready")), in_flight=_i(v("in_flight")),
                       failed=_i(v("failed")), delayed=_i(v("delayed")),
                       consumers=_i(v("consumers")), completed=v("completed"))
            r = Rates(float(d["arrival_rate"][i]), float(d["completion_rate"][i]))
            out.append(frame_of(s, r, t - self._t0))
        return out

    async def poll(self) -> Sample:
        """Read the source once, now: record the sample, its frame, history and alerts."""
        t = self.now
        try:
            if not self._opened:
                await self.open()
            timeout = max(5.0, READ_TIMEOUT_FACTOR * self.interval)
            sample = await asyncio.wait_for(self.source.read(), timeout)
        except SourceError as exc:
            if exc.lasting:
                raise
            sample = gap(time.time(), str(exc))
        except TimeoutError:
            sample = gap(time.time(), f"{self.source.url}: no answer within the poll's time")
        self._record(sample, t)
        return sample

    def _record(self, sample: Sample, t: float) -> None:
        r = rates(self._prev, sample)
        self._polls += 1
        if sample.reachable:
            self.status = f"{self.source.url}: {self.source.method}"
            if self._prev is not None and self._prev.reachable:
                dt = sample.t - self._prev.t
                if math.isfinite(r.arrival):
                    self._arrived += r.arrival * dt
                if math.isfinite(r.completion):
                    self._completed += r.completion * dt
        else:
            self._gaps += 1
            self.status = f"unreachable, retrying every {self.interval:g} s: {sample.error}"
            if self._last is None or self._last.reachable:
                log.warning("monitor: %s", sample.error)
        self._prev = self._last = sample
        self.last_frame = frame_of(sample, r, t)
        self._frames.append(self.last_frame)
        if self.history is not None:
            self.history.add(sample, r)
        for alert in self._alerts.observe(sample):
            self.alerts.append(alert)
            self._markers.append(AppliedChange(t, f"alert.{alert.rule}", None, alert.text))
            log.warning("monitor alert: %s", alert.text)
            if self._on_alert is not None:
                self._on_alert(alert)

    async def _run(self) -> None:
        k = 0
        try:
            while self.now < self._end:
                if self._state is RunState.RUNNING:
                    await self.poll()
                k += 1
                # polls on a fixed grid of wall time; a late poll skips the missed ones
                wall = time.time() - self._t0 - self._paused_total
                k = max(k, math.ceil(wall / self.interval))
                delay = k * self.interval - wall
                await asyncio.sleep(max(0.0, min(delay, self._end - self.now)))
        except SourceError as exc:
            self.error = exc
            self.status = f"stopped: {exc}"
        finally:
            if self._state is not RunState.FINISHED:
                self._state = RunState.FINISHED
            if self.history is not None:
                self.history.flush()


def _is_an_engine(e: MonitorEngine) -> Engine:
    """mypy checks here that MonitorEngine implements the Engine protocol in full."""
    return e
