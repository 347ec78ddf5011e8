"""The live engine: a scenario run for real, by asyncio workers, through a real backend.

It implements `core.engine.Engine` as `sim.engine.SimEngine` does - same knobs with the same
meaning, same frames and summary keys, all in scenario seconds - so the window and the CLI
drive either without asking which one they hold. What differs, and why:

* `start()` needs a running event loop (qasync in the app, `asyncio.run` in the CLI): the
  run is a set of tasks on it. The backend is opened and looked at (`found`, see
  `runtime.found`) before scenario time 0, and never emptied unless asked (`purge=True`, or
  `purge_found()` after a look): what the queue held is worked off as part of the run and
  counted in the books as carried over.
* `advance()` does no work - the loop does - but re-raises a failure the run hit in the
  background (a backend gone away), once, so the window can show it.
* `step()` lets the run go for one sample interval, then pauses it again; it returns at once
  and the frame arrives through `take_frames()` when the interval is over.
* `set_speed()` is refused: a live run goes at `run.time_scale` wall seconds per scenario
  second, fixed at the start. Speed is the simulator's.
* Pausing stops scenario time (see `runtime.clock`): no arrivals, claims or timeouts.
* The run ends at `run.duration`: the window of frames and summary closes there, exactly as
  in the simulator; the driver stops, and in-flight work is drained (at most `drain_limit`
  scenario seconds, by default one lease) and then handed back. The conservation totals
  keep following the tasks through the drain.
* Frames close every `run.sample_interval` scenario seconds, at the first moment the loop
  gets to it. A loop stalled past two boundaries (a busy machine, a tiny time scale) closes
  one frame for both: fewer rows, nothing lost.
* `totals()` come from the engine's own books (`runtime.ledger`); after every frame they are
  checked against the backend's counts (`audits`, `audit_failures`).
* A queue other processes work too (`queuelab worker` beside `queuelab run`, two runs on one
  queue) is noticed - leases the run does not hold, found at the start or at two audits in
  a row, or tasks that appear or vanish with no call of the run to explain them - and said
  (`shared`): from then on the books are the backend's counts, `done` this run's
  acks, and the balance is what the others took (`Totals.by_others`). A run that produces
  nothing (`queuelab worker`) shares its queue from the start.
* The queue stays open after the run so the dead-letter pane keeps working; `aclose()` closes
  it (when the engine opened it).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from queuelab.backends import open_queue, parse_options
from queuelab.backends.base import QueueCounts, TaskQueue
from queuelab.core.changes import POOL_ROUTES, ChangeLog, Route, route
from queuelab.core.engine import AppliedChange, EngineFacts, RunState, Totals, WorkerInfo
from queuelab.core.metrics import MetricsFrame, MetricsRecorder, RunSummary
from queuelab.core.models import LoadModels
from queuelab.core.reference import mmc_reference
from queuelab.core.scenario import Scenario
from queuelab.core.scenario_policies import autoscaler_for, autoscaler_knobs
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery
from queuelab.core.theory import MMcPrediction
from queuelab.core.timeline import TimelinePlayer, play_due
from queuelab.core.validation import ParamChange, validate, with_change
from queuelab.runtime.clock import Pulse, ScenarioClock
from queuelab.runtime.context import NullRecorder, RunContext, watch
from queuelab.runtime.found import FoundTasks, inspect
from queuelab.runtime.handlers import SyntheticHandler, UserHandler, make_handler
from queuelab.runtime.leases import LeaseKeeper
from queuelab.runtime.load_driver import LoadDriver
from queuelab.runtime.pools import SETTLE_LIMIT, Autoscaling, Pool, SemaphorePool, WorkerPool

FRAME_BUFFER = 100_000  # frames kept for a reader that has not drained them
_RUNNING, _PAUSED, _IDLE = RunState.RUNNING, RunState.PAUSED, RunState.IDLE
_STOPPING, _FINISHED = RunState.STOPPING, RunState.FINISHED


class LiveEngine(EngineFacts):
    """Runs a scenario in real time over a `TaskQueue`; implements `core.engine.Engine`.

    `queue`: use this queue (not closed by the engine) instead of opening
    `scenario.queue.backend`. `produce=False` runs workers only (`queuelab worker`): no load
    driver, until stopped unless `duration` says otherwise. `purge=True` deletes what the
    queue holds when it is opened (`purged` says what); by default it is carried over.
    """

    kind = "live"

    def __init__(self, scenario: Scenario, queue: TaskQueue | None = None, *,
                 produce: bool = True, purge: bool = False,
                 duration: float | None = None, drain_limit: float | None = None) -> None:
        self._scenario = validate(scenario)
        self._queue = queue
        self._own_queue = queue is None
        self._produce = produce
        self._purge = purge
        self.found = FoundTasks()  # what the queue held when opened (and was not purged)
        self.notices: list[str] = []  # the backend's warnings, once opened (TaskQueue.notices)
        self.purged: FoundTasks | None = None  # what a purge deleted, when there was one
        self.shared: str | None = None  # why the run's queue is known to be shared
        self._shared_totals: Totals | None = None  # the books from the last backend count
        self._duration_override = duration
        self._drain_limit = drain_limit
        self._opened = False
        self._state = _IDLE
        self._log = ChangeLog()
        self._frames: deque[MetricsFrame] = deque(maxlen=FRAME_BUFFER)
        self._main: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self._error_reported = False
        self._stop_drain: bool | None = None  # a stop was asked for, draining or not
        self._pause_after_frame = False
        self._timeline_pulse = Pulse()
        self._ctx: RunContext | None = None
        self._pool: Pool | None = None
        self._driver: LoadDriver | None = None
        self._scaling: Autoscaling | None = None
        self._helpers: list[asyncio.Task[None]] = []
        self._audit_task: asyncio.Task[None] | None = None
        self._keeper: LeaseKeeper | None = None
        self._suspect: str | None = None  # the last audit's difference, not yet confirmed
        self._foreign_seen = False  # the last audit saw leases this run does not hold
        self._final: RunSummary | None = None
        self._t_end: float | None = None
        self._wall_start = 0.0
        self._wall = 0.0
        self.audits = 0  # frames whose books were compared with the backend's counts
        self.audit_failures: list[tuple[float, str]] = []  # (t, what differed)
        self._build(self._scenario)

    def _build(self, s: Scenario) -> None:
        """Everything a run needs that is not tied to the event loop (rebuilt while idle)."""
        self._end = (s.run.duration if self._duration_override is None
                     else self._duration_override)
        self.clock = ScenarioClock(s.run.time_scale)
        self.models = LoadModels(s)
        self.handler: SyntheticHandler | UserHandler = make_handler(
            s.service.handler, self.clock, self.models, threads=_threads_hint(s))
        self.recorder = MetricsRecorder(s.run.sample_interval, s.run.warmup)

    # ------------------------------------------------------------------ the Engine protocol

    @property
    def now(self) -> float:
        if self._t_end is not None:
            return self._t_end
        return min(self.clock.now(), self._end)

    @property
    def changes(self) -> Sequence[AppliedChange]:
        return self._log.entries

    @property
    def queue(self) -> TaskQueue | None:
        """The backend the run uses (None until opened)."""
        return self._queue

    @property
    def context(self) -> RunContext | None:
        """The run's shared state (None before the run has begun): for tests and tools."""
        return self._ctx

    @property
    def error(self) -> BaseException | None:
        return self._error

    @property
    def opened(self) -> bool:
        return self._opened

    def reference(self) -> MMcPrediction | None:
        """Erlang C's prediction when the scenario is M/M/c, else None (as the simulator);
        None on a shared queue too: the c it would assume is not the pool serving it."""
        return None if self.shared else mmc_reference(self._scenario)

    async def open(self) -> None:
        """Open the backend and look at what it holds (`found`); `start()` does it if not done.

        Awaiting it first lets a caller report an unreachable backend, and ask what to do
        with what the queue holds (`purge_found`), before the run begins.
        """
        if self._opened:
            return
        if self._queue is None:
            q = self._scenario.queue
            options: dict[str, Any] = {}
            if q.discipline != "fifo" and "discipline" not in parse_options(q.backend):
                options["discipline"] = q.discipline
            self._queue = open_queue(q.backend, **options)
        await self._queue.open()
        self._opened = True
        self.notices = await self._queue.notices()
        self.found = await inspect(self._queue)
        if self._purge:
            await self.purge_found()

    async def purge_found(self) -> FoundTasks:
        """Delete what the queue held (asked for: `purge=True`, `--purge`, the app's question);
        what was found is returned and kept in `purged`. Only before the run starts."""
        if self._state is not _IDLE or not self._opened or self._queue is None:
            raise RuntimeError("a queue is purged only after open() and before the run starts")
        await self._queue.purge()
        self.purged, self.found = self.found, FoundTasks()
        return self.purged

    def start(self) -> None:
        """Begin the run on the running event loop; time starts once the backend is open."""
        if self._state is not _IDLE:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("LiveEngine.start() needs a running asyncio event loop "
                               "(the app runs on qasync, the CLI on asyncio.run)") from None
        self._state = _RUNNING
        self._main = loop.create_task(self._run())

    def pause(self) -> None:
        if self._state is _RUNNING:
            self._state = _PAUSED
            self.clock.pause()

    def resume(self) -> None:
        if self._state is _PAUSED:
            self._state = _RUNNING
            self.clock.resume()
            if isinstance(self._pool, SemaphorePool):
                self._pool.wake()

    async def stop(self, drain: bool = True) -> None:
        """End the run now: stop arrivals and claims; drain in-flight work or hand it back."""
        if self._state is _IDLE:
            self._state = _FINISHED
            return
        if self._state is _FINISHED:
            await self.aclose()
            return
        if self._stop_drain is None or not drain:
            self._stop_drain = drain
        if self._driver is not None:  # from now on: no arrival, no new claim
            self._driver.stop()
        if self._ctx is not None:
            self._ctx.stopping = True
        if not drain and self._state is _STOPPING and self._pool is not None:
            self._pool.abandon_now()  # a drain in progress becomes a stop-now
        self.resume()  # a drain on a stopped clock would never end
        self._timeline_pulse.fire()
        if self._main is not None:
            await asyncio.shield(self._main)

    def step(self) -> bool:
        """Run for one sample interval, then pause; False once the run is finished."""
        if self._state is _FINISHED:
            return False
        if self._state is _IDLE:
            self._pause_after_frame = True
            self.start()
        elif self._state is _PAUSED:
            self._pause_after_frame = True
            self.resume()
        return True

    def set_speed(self, speed: float | None) -> None:
        raise ValueError("a live run goes at run.time_scale wall seconds per scenario second, "
                         "fixed when it starts; speed applies to the simulated engine only")

    def advance(self, budget: float) -> None:
        """Nothing to compute (the event loop runs the workers); re-raise a run failure once."""
        if self._error is not None and not self._error_reported:
            self._error_reported = True
            raise self._error

    def take_frames(self) -> list[MetricsFrame]:
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def workers(self) -> list[WorkerInfo]:
        return [] if self._pool is None else self._pool.workers()

    def totals(self) -> Totals:
        if self._ctx is None:
            return Totals(0, 0, 0, 0, 0, 0)
        if self._shared_totals is not None:
            return self._shared_totals
        return self._ctx.ledger.totals(self.clock.now())

    def summary(self) -> RunSummary:
        if self._final is not None:
            return self._final
        return self._summary_at(self.now)

    def _summary_at(self, t: float) -> RunSummary:
        totals = self.totals()
        wall = self._wall if self._t_end is not None else (
            time.perf_counter() - self._wall_start if self._wall_start else 0.0)
        pool = self._pool
        return self.recorder.summary(t).with_extras(
            waiting=totals.waiting, in_flight=totals.in_flight, retrying=totals.retrying,
            # not measured live: timer jitter makes every wait a few ms, never exactly 0
            p_wait=math.nan,
            final_workers=0 if pool is None else pool.alive(),
            events=0 if self._ctx is None else self._ctx.events,
            wall_seconds=round(wall, 6),
            **({} if self._ctx is None else self._ctx.callers.figures(totals.abandoned)),
        )

    async def run_slice(self, budget: float) -> None:
        """Wait while the workers run: `budget` wall seconds, or until the run is over."""
        if self._main is None or self._main.done():
            await asyncio.sleep(budget if self._main is None else 0)
            return
        await asyncio.wait({self._main}, timeout=budget)

    async def wait(self) -> None:
        """Until the run is over; raises what made it fail, if anything did."""
        if self._main is not None:
            await asyncio.shield(self._main)
        if self._error is not None:
            self._error_reported = True
            raise self._error

    async def aclose(self) -> None:
        """Close the backend if this engine opened it (after the run; idempotent)."""
        if self._opened and self._own_queue and self._queue is not None and (
                self._state in (_IDLE, _FINISHED)):
            self._opened = False
            await self._queue.close()

    # ------------------------------------------------------------------ dead letters

    async def dead_letters(self, query: DeadLetterQuery) -> DeadLetterPage:
        if not self._opened or self._queue is None:
            return DeadLetterPage((), 0, 0)
        return await self._queue.dead_letters(query)

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        if not self._opened or self._queue is None:
            return None
        return await self._queue.get_dead_letter(task_id)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Dead letters back into the queue (the backend moves each atomically)."""
        if not self._opened or self._queue is None:
            return 0
        n = len(task_ids)
        if self._ctx is None:
            moved = await self._queue.reprocess(task_ids, reset_attempts=reset_attempts)
        else:
            with self._ctx.calls.call(n, 0, n):
                moved = await self._queue.reprocess(task_ids, reset_attempts=reset_attempts)
        if moved and self._ctx is not None:
            self._ctx.ledger.reprocessed_n(moved)
            self._ctx.recorder.reprocessed(self.clock.now(), moved)
            self._record_dead_letter_action("dead_letters.reprocess", moved)
        return moved

    async def discard(self, task_ids: Sequence[str]) -> int:
        if not self._opened or self._queue is None:
            return 0
        if self._ctx is None:
            gone = await self._queue.discard(task_ids)
        else:
            with self._ctx.calls.call(0, 0, len(task_ids)):
                gone = await self._queue.discard(task_ids)
        if gone and self._ctx is not None:
            self._ctx.ledger.discarded_n(gone)
            self._record_dead_letter_action("dead_letters.discard", gone)
        return gone

    def _record_dead_letter_action(self, path: str, n: int) -> None:
        """A plot marker: `n` dead letters acted on, one marker per interval (`core.changes`)."""
        assert self._ctx is not None
        self._log.dead_letter_action(self.now, path, n, self._ctx.ledger.dead,
                                     self._scenario.run.sample_interval)

    # ------------------------------------------------------------------ live changes

    def apply(self, change: ParamChange) -> AppliedChange:
        """Validate a knob change and apply it at the current scenario time."""
        running = self._state is not _IDLE
        old_scenario = self._scenario
        new = with_change(old_scenario, change, running=running, now=self.now)
        self._scenario = new
        if self._ctx is None:  # nothing has happened yet: build from the new scenario
            self._build(new)
        else:
            self._apply_running(change.path, new)
        return self._log.knob(self.now, change.path, old_scenario.get(change.path),
                              new.get(change.path))

    def _apply_running(self, path: str, s: Scenario) -> None:
        """Act on the route the knob takes (`core.changes`), as the simulator does."""
        ctx = self._ctx
        assert ctx is not None
        ctx.configure(s)  # retry, timeout, lease, batch, payload: read at their next use
        models = self.models
        r = route(path, s.pool.strategy)
        if r is Route.ARRIVALS:
            models.build_arrivals(s)
            if self._driver is not None:
                self._driver.rebuild(models.arrivals)
        elif r is Route.SERVICE:
            models.build_service(s)
        elif r is Route.FAILURES:
            models.build_failures(s)
        elif r is Route.BREAKER:
            ctx.configure_breaker(s)
            if isinstance(self._pool, SemaphorePool):
                self._pool.wake()
        elif r is Route.CLIENTS:
            ctx.callers.configure(s, ctx.ledger.created - ctx.callers.tally.retries)
        elif r is Route.DURATION:
            if self._t_end is None:
                self._end = s.run.duration if self._duration_override is None else self._end
                if self._driver is not None:
                    self._driver.set_end(self._end)
                self._timeline_pulse.fire()
        elif r in POOL_ROUTES and self._pool is not None:
            self._pool.apply(r, s)
            if isinstance(self.handler, UserHandler):
                self.handler.resize(self._pool.threads_needed())
        elif self._scaling is not None and self._pool is not None:
            self._apply_autoscaler(r, s)
        # RETRY and CLAIMS: `ctx.configure` above; they are read at their next use

    def _apply_autoscaler(self, r: Route | None, s: Scenario) -> None:
        scaling, pool = self._scaling, self._pool
        assert scaling is not None and pool is not None
        if r is Route.CHECK_INTERVAL:
            if s.pool.autoscaler == "keda":  # its HPA sync period
                scaling.autoscaler.reconfigure(**autoscaler_knobs(s))
            scaling.reconfigure(check_interval=s.pool.check_interval)
        elif r is Route.AUTOSCALER:
            scaling.reconfigure(autoscaler=autoscaler_for(s))
        elif r in (Route.AUTOSCALER_KNOBS, Route.POOL_BOUNDS):
            scaling.autoscaler.reconfigure(**autoscaler_knobs(s))
            if r is Route.POOL_BOUNDS:
                pool.resize(min(max(pool.size(), s.pool.min_workers), s.pool.max_workers))

    # ------------------------------------------------------------------ the run

    def _fail(self, exc: BaseException) -> None:
        """A part of the run failed: end the run with that error."""
        if self._error is None:
            self._error = exc
        self._timeline_pulse.fire()

    async def _run(self) -> None:
        try:
            await self.open()
            await self._begin()
            await self._timeline()
            drain = True if self._stop_drain is None else self._stop_drain
            if self._error is None:
                await self._finish(drain)
        except asyncio.CancelledError:
            self._fail(RuntimeError("the live run was cancelled"))
            raise
        except Exception as exc:
            self._fail(exc)
        finally:
            if self._error is not None:
                self._kill()
            if self._t_end is None:
                self._close_window()
            if isinstance(self.handler, UserHandler):
                self.handler.close()
            self._state = _FINISHED

    async def _begin(self) -> None:
        s = self._scenario
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        self._wall_start = time.perf_counter()
        self.clock.start()
        if self._state is _PAUSED:
            self.clock.pause()
        ctx = RunContext(s, self.clock, self._queue, self.models, self.handler, self.recorder)
        ctx.on_error = self._fail
        self._ctx = ctx
        found = self.found
        ctx.ledger.carry_over(found.waiting + found.retrying, found.dead, found.in_flight)
        if found.in_flight:
            self._share(f"{found.in_flight:,} task(s) were leased by another process when the "
                        "run began", QueueCounts(found.waiting, found.retrying,
                                                  found.in_flight, found.dead))
        elif not self._produce:
            self._share("a worker-only run serves a queue other processes fill",
                        QueueCounts(found.waiting, found.retrying, 0, found.dead))
        pool: Pool = SemaphorePool(ctx, s) if s.pool.strategy == "semaphore" else WorkerPool(ctx, s)
        self._pool = pool
        if isinstance(self.handler, UserHandler):
            self.handler.resize(pool.threads_needed())
        pool.start()
        self._keeper = LeaseKeeper(ctx)
        helpers = [loop.create_task(self._keeper.run())]
        if self._produce:
            self._driver = LoadDriver(ctx, self._end)
            helpers.append(loop.create_task(self._driver.run()))
            desk = ctx.callers  # the callers retry through the driver
            helpers.append(loop.create_task(desk.run(
                self._driver.resend, lambda: ctx.ledger.created - desk.tally.retries,
                lambda: ctx.retry)))
        if s.pool.strategy == "dynamic" and isinstance(pool, WorkerPool):
            self._scaling = Autoscaling(ctx, pool, autoscaler_for(s),
                                        s.pool.check_interval)
            helpers.append(loop.create_task(self._scaling.run()))
        if s.timeline:
            helpers.append(loop.create_task(self._play_timeline(TimelinePlayer(s.timeline))))
        for task in helpers:
            watch(ctx, task)
        self._helpers = helpers

    async def _play_timeline(self, player: TimelinePlayer) -> None:
        """Apply the scenario's scripted changes at their scenario times, through `apply`
        as a change by hand is (the simulator plays the same player from its event heap)."""
        clock = self.clock
        while (at := player.next_at()) < math.inf:
            await clock.sleep_until(at, self._timeline_pulse)
            if self._state not in (_RUNNING, _PAUSED) or self._stop_drain is not None:
                return
            if clock.now() < at:
                continue  # woken by the pulse (a new duration, a failure): look again
            self.notices += play_due(player, at, self._scenario.get,
                                     lambda path, value: self.apply(ParamChange(path, value)))

    async def _timeline(self) -> None:
        """Close a frame every sample interval until the end, a stop or a failure."""
        clock, recorder = self.clock, self.recorder
        while self._stop_drain is None and self._error is None:
            boundary = recorder.next_frame_at
            target = min(boundary, self._end)
            if not await clock.sleep_until(target, self._timeline_pulse):
                continue
            now = clock.now()
            if boundary <= self._end + 1e-9 and now >= boundary:
                self._close_frame(now)
                self._start_audit(now)
                if self._pause_after_frame:
                    self._pause_after_frame = False
                    self.pause()
            if now >= self._end:
                return

    def _close_frame(self, now: float) -> None:
        ctx = self._ctx
        assert ctx is not None
        b = self.totals()  # the backend's latest count on a shared queue, else the ledger's
        desk = ctx.callers
        self._frames.append(self.recorder.close_frame(
            now, depth=b.waiting, in_flight=b.in_flight, retrying=b.retrying,
            dead_letters=b.dead_lettered, created=b.created, done=b.done,
            breaker_open=ctx.breaker_open(now), carried_over=b.carried_over,
            by_others=b.by_others, rejected=b.rejected, abandoned=b.abandoned,
            good=b.done - desk.tally.wasted_done, client_timeouts=desk.tally.timeouts,
            client_retries=desk.tally.retries, gave_up=desk.tally.gave_up,
            wasted_work=desk.tally.wasted_work))

    def _start_audit(self, now: float) -> None:
        """Audit in the background: a backend slow to count must not delay the next frame.
        One audit at a time; a frame that comes while one is running is not audited."""
        if self._audit_task is None or self._audit_task.done():
            self._audit_task = asyncio.get_running_loop().create_task(self._audit(now))
            if self._ctx is not None:
                watch(self._ctx, self._audit_task)

    def _share(self, why: str, counts: QueueCounts) -> None:
        """The queue is worked by other processes too: say so, and keep the books from the
        backend's counts from now on (differences seen so far were the others' doing)."""
        assert self._ctx is not None
        if self.shared is None:
            self.shared = why
            self._suspect = None
            if self.audit_failures:
                self.shared += (f" (the {len(self.audit_failures)} earlier audit difference(s) "
                                "were theirs)")
                self.audit_failures.clear()
        self._shared_totals = self._ctx.ledger.shared_totals(counts)

    async def _audit(self, now: float) -> None:
        """Compare the books with the backend's counts, allowing for the calls in progress;
        on a shared queue, take the books from them."""
        ctx = self._ctx
        if ctx is None:
            return
        window = ctx.calls.window()
        try:
            counts = await ctx.queue.counts()
        finally:
            slack = ctx.calls.close(window)
        ctx.ledger.tick(self.clock.now())
        self.audits += 1
        if self.shared is not None:
            self._shared_totals = ctx.ledger.shared_totals(counts)
            return
        if counts.approximate:  # a lagging figure proves nothing either way: the next audit
            return
        # leases this run does not hold, seen twice in a row (a broker's count of unacked
        # deliveries may lag an ack for a moment): other workers serve this queue
        foreign = ctx.ledger.foreign_leases(counts, slack)
        if foreign and self._foreign_seen:
            self._share(f"at t = {now:,.1f} s the backend held {foreign:,} lease(s) this run "
                        "does not: other workers serve this queue", counts)
            return
        self._foreign_seen = foreign > 0
        problem = ctx.ledger.audit(counts, slack)
        # A broker's counts may lag its confirms by a moment: a difference counts once two
        # audits in a row see one (a lost or doubled task stays different for good).
        if problem is not None and self._suspect is not None:
            # tasks that appeared or vanished with no call of this run to explain them:
            # another process adds to or takes from this queue
            extra = ctx.ledger.unexplained(counts, slack)
            if extra:
                self._share(f"at t = {now:,.1f} s the backend held {abs(extra):,} task(s) "
                            f"{'more' if extra > 0 else 'fewer'} than this run's books: "
                            f"another process {'adds to' if extra > 0 else 'takes from'} "
                            "this queue", counts)
                return
            self.audit_failures.append((now, problem))
        self._suspect = problem

    async def _final_audit(self) -> None:
        """After the drain no call is in progress: the books and the backend must agree
        exactly, once the backend's counts have settled (a second at most)."""
        ctx = self._ctx
        if ctx is None:
            return
        problem = None
        for _ in range(20):
            counts = await ctx.queue.counts()
            ctx.ledger.tick(self.clock.now())
            if self.shared is not None:
                self._shared_totals = ctx.ledger.shared_totals(counts)
                break
            problem = ctx.ledger.audit(counts)
            if problem is None:
                break
            await asyncio.sleep(0.05)
        self.audits += 1
        if problem is not None:
            self.audit_failures.append((self.clock.now(), f"after the run: {problem}"))

    def _close_window(self) -> None:
        """The measured window ends here: the summary is taken, later events (the drain)
        change only the totals."""
        t = self.clock.now() if self.clock.started else 0.0
        self._t_end = min(t, self._end)
        self._wall = time.perf_counter() - self._wall_start if self._wall_start else 0.0
        self._final = self._summary_at(self._t_end)
        if self._ctx is not None:
            self._ctx.recorder = NullRecorder()

    async def _finish(self, drain: bool) -> None:
        ctx, pool = self._ctx, self._pool
        assert ctx is not None and pool is not None
        self._close_window()
        self._state = _STOPPING
        if self._driver is not None:
            self._driver.stop()
        limit = self._drain_limit if self._drain_limit is not None else ctx.lease
        await pool.stop(drain, self.clock.wall(limit))
        # helpers are asked to stop, not cancelled: a task cancelled inside a backend call
        # can leave a shared connection mid-statement
        for helper in (self._driver, self._keeper, self._scaling, ctx.callers):
            if helper is not None:
                helper.stop()
        self._timeline_pulse.fire()  # the timeline's player sees the stop
        helpers = {*self._helpers, *([self._audit_task] if self._audit_task else [])}
        if helpers:
            _, stuck = await asyncio.wait(helpers, timeout=SETTLE_LIMIT)
            for task in stuck:
                task.cancel()
        self._helpers = []
        await self._final_audit()

    def _kill(self) -> None:
        """After a failure: cancel everything; held tasks come back when their leases end."""
        if self._ctx is not None:
            self._ctx.stopping = self._ctx.abandon = True
        for task in self._helpers:
            task.cancel()
        if self._audit_task is not None:
            self._audit_task.cancel()
        if self._pool is not None:
            self._pool.kill()


def _threads_hint(s: Scenario) -> int:
    """Concurrent sync handler calls a pool may make: its largest size."""
    p = s.pool
    return {"single": 1, "fixed": p.workers, "semaphore": p.concurrency}.get(
        p.strategy, max(p.workers, p.max_workers))



