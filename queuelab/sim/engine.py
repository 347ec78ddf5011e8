"""The virtual-time engine: a discrete-event simulation of one scenario.

One heap of `(time, sequence, event code, subject)` entries, as SimPy keeps it, but with
the queue, the pool and the policies written straight into the event handlers instead of
as generator processes: that is what buys an hour of traffic in a second. The policies,
load models and metrics are the shared `core` objects the live runtime uses too.

This module is also compiled (mypyc, see setup.py and `queuelab.native`), from this same
source: the hot loop's locals carry types so that the compiled loop unboxes them, and the
worker and task records it touches per event are compiled with it (`sim.entities`).

Determinism: every random decision draws from a seeded stream of its own (arrivals,
service, poison, attempt, priority, backoff: `core.streams.Streams`), and draws it whether
or not it is used, so the same scenario and seed give byte-identical frames, and changing
one knob does not reshuffle the draws of the others (common random numbers: a run with a
change compares fairly with the run without it).
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections import deque
from collections.abc import Sequence
from heapq import heappop, heappush, heapreplace
from typing import Any, Final

from queuelab.core.changes import ChangeLog, Route, route
from queuelab.core.engine import (
    AppliedChange,
    FoundTasks,
    RunState,
    Totals,
    WorkerInfo,
    WorkerState,
)
from queuelab.core.metrics import MetricsFrame, MetricsRecorder, RunSummary
from queuelab.core.models import LoadModels
from queuelab.core.outcome import Action, after_backoff, settle, synthetic_error
from queuelab.core.policies import CircuitBreaker, PoolObservation
from queuelab.core.policies.resize import plan_resize
from queuelab.core.reference import mmc_reference
from queuelab.core.scenario import Scenario, initial_workers
from queuelab.core.scenario_policies import (
    autoscaler_for,
    autoscaler_knobs,
    breaker_for,
    callers_for,
    clients_knobs,
    retry_knobs,
    retry_policy_for,
)
from queuelab.core.stats import BatchMeans
from queuelab.core.streams import draws, skip
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Outcome
from queuelab.core.theory import MMcPrediction
from queuelab.core.timeline import TimelinePlayer, play_due
from queuelab.core.validation import ParamChange, validate, with_change
from queuelab.sim.dead_letters import DeadLetterStore
from queuelab.sim.entities import (
    ATTEMPTS,
    CREATED,
    FIRST_START,
    NUMBER,
    POISON,
    PRIORITY,
    TRIES,
    Event,
    SimTask,
    SimWorker,
    history,
)
from queuelab.sim.referable import Referable

# Module constants are Final: compiled code reads a Final int as a literal and any other
# Final from a C static, where a plain module name costs a dict lookup (~140 instructions)
# at every use.

# Event codes, most frequent first (the loop tests them in this order).
_FINISH: Final = 0
_RETRY: Final = 1
_SAMPLE: Final = 2
_WARM: Final = 3
_CHECK: Final = 4
_READY: Final = 5
_INLINE: Final = 6
_WAKE: Final = 7
_KILL: Final = 8
_TIMELINE: Final = 9
_EXPIRE: Final = 10
_RESEND: Final = 11

# Enum members looked up once: attribute access on an Enum class costs ~0.15 µs on 3.11,
# several times per task. Typed as their class, so that mypy does not narrow `is` tests on
# them to one member (a call between two tests may change the state they test).
_BUSY: Final[WorkerState] = WorkerState.BUSY
_IDLE: Final[WorkerState] = WorkerState.IDLE
_STARTING: Final[WorkerState] = WorkerState.STARTING
_BLOCKED: Final[WorkerState] = WorkerState.BLOCKED
_BACKING_OFF: Final[WorkerState] = WorkerState.BACKING_OFF
_SUCCEEDED: Final[Outcome] = Outcome.SUCCEEDED
_FAILED: Final[Outcome] = Outcome.FAILED
_TIMED_OUT: Final[Outcome] = Outcome.TIMED_OUT
_RUNNING: Final[RunState] = RunState.RUNNING
_FINISHED: Final[RunState] = RunState.FINISHED
_HOLD: Final[Action] = Action.HOLD
_TRY_AGAIN: Final[Action] = Action.RETRY
_heappush: Final = heappush  # a C static, not a module-dict lookup, in `_push`

# No queue bound: the largest int compiled code keeps unboxed (mypyc's short int, 2^62 - 1).
# sys.maxsize is boxed there, and comparing with it cost ~150 instructions per queued task.
_UNBOUNDED: Final = (1 << 62) - 1

FRAME_BUFFER: Final = 100_000  # frames kept for a reader that has not drained them
_CLOCK_EVERY: Final = 512  # events between two looks at the wall clock


class SimEngine(Referable):
    """Runs a scenario in virtual time; implements `core.engine.Engine`."""

    kind = "simulated"

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = validate(scenario)
        s = scenario
        # the seeded streams and the load models on them, shared with the live engine
        self._models = LoadModels(s)
        # the backoff jitter's draws (`LoadModels.jitter`) as an iterator sharing the stream's
        # position: next() on it costs no interpreted call (core.streams.draws)
        self._jitters = draws(self._models.streams.backoff)

        self.now = 0.0
        self._state = RunState.IDLE
        self._heap: list[Event] = []
        self._seq = 0  # the last event's sequence number: ties in time break by scheduling order
        self._events = 0
        self._wall = 0.0  # wall seconds spent simulating
        self._end = s.run.duration
        self._frames: deque[MetricsFrame] = deque(maxlen=FRAME_BUFFER)
        self._log = ChangeLog()
        self.recorder = MetricsRecorder(s.run.sample_interval, s.run.warmup)
        # Counts the event loop hands to the recorder in bulk at each frame (`_tally`).
        # arrivals and successes per tally are deltas of `_created` and `_done`
        self._tallied_created = self._tallied_done = self._m_failed = 0
        self._m_service = self._m_busy_started = self._busy_carry = 0.0
        self._m_waits: list[float] = []
        # Time in system, for Little's law (`_tally`): the entry times less the leaving
        # times since the last tally (admitted arrivals in, completions out; dead letters on
        # their own sums, since the loop may call `_failed_attempt` with its locals unsynced,
        # and so do tasks dropped unserved because their caller had gone),
        # and the times in system of the tasks that left; the count in system and the time
        # at the last tally.
        self._m_in_out = self._m_sojourn = self._m_dead_out = self._m_dead_sojourn = 0.0
        self._system_at = 0.0
        self._system_was = 0
        self._m_dropped = 0  # tasks dropped unserved since the last tally (their caller gone)

        # The queue: one FIFO per priority level (a single one under fifo discipline).
        self._levels = len(s.priorities.weights) if s.queue.discipline == "priority" else 1
        self._queues: list[deque[SimTask]] = [deque() for _ in range(self._levels)]
        # each level's waits after the warm-up, for Cobham's per-class waits (the priority
        # discipline takes `_start` for every attempt, off the inlined path)
        self._level_waits: list[BatchMeans] = (
            [BatchMeans() for _ in range(self._levels)] if self._levels > 1 else [])
        self._waiting = 0
        self._prefetched: deque[SimTask] = deque()  # semaphore pool: claimed ahead of a slot

        # Where tasks are, for the conservation totals.
        self._created = 0
        self._done = 0
        self._retrying = 0  # requeue backoffs pending + inline backoffs in progress
        self._busy = 0
        self.dead = DeadLetterStore()
        self._discarded = 0
        self._rejected = 0  # arrivals turned away by a full queue (`[queue] max_length`)
        self._max_waiting = s.queue.max_length or _UNBOUNDED
        # The callers (`[clients]`, core.clients): kept off the hot loop, which leaves every
        # event to the methods once callers have ever timed out in this run (`_clients`).
        self._callers = callers_for(s)
        self._clients = self._callers.active
        self._abandoned = 0  # books: tasks whose caller gave up, dropped unserved
        self._gone: set[int] = set()  # numbers of tasks in the run whose caller gave up

        # The pool.
        self._workers: dict[int, SimWorker] = {}
        self._idle: list[SimWorker] = []
        self._worker_seq = 0
        self._alive = 0  # workers that exist (starting, working, draining)
        self._breaker: CircuitBreaker | None = None
        self._wake_at = math.inf
        self._blocked = False  # some idle workers are labelled blocked by the breaker
        self._next_arrival = math.inf
        self._check_gen = 0

        # Pacing for the GUI: virtual time follows speed × wall time from a base point.
        self._speed: float | None = 1.0
        self._pace_wall = 0.0
        self._pace_virtual = 0.0

        #: False sends every event through the engine's methods instead of the event loop's
        #: inlined paths: the reference the inlined loop is held to (same frames, byte for byte)
        self.fast_path = True
        self._build_policies(s)
        # the scripted changes, played through `apply` from the heap (`_TIMELINE` events);
        # one played mid-loop ends the loop's pass, whose locals knobs are cached in
        self._player = TimelinePlayer(s.timeline)
        self._replan = False
        self._notices: list[str] = []

    # ------------------------------------------------------------------ building blocks

    def _build_policies(self, s: Scenario) -> None:
        self._retry = retry_policy_for(s)
        # (not `_inline`: the compiled build's C code would read that name as a keyword)
        self._inline_mode = s.retry.mode == "inline"
        self._timeout = s.timeouts.task
        self._breaker = breaker_for(s)
        p = s.pool
        self._prefetch = p.prefetch if p.strategy == "semaphore" else 0
        self._autoscaler = None
        if p.strategy == "dynamic":
            self._autoscaler = autoscaler_for(s)

    def _error_for(self, outcome: Outcome, poison: bool) -> tuple[str, str]:
        """The error kind and message a failed attempt reports (the dead-letter pane's text)."""
        return synthetic_error(outcome, poison, timeout=self._timeout,
                               probability=self._models.p_fail)

    # ------------------------------------------------------------------ the Engine protocol

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    @property
    def state(self) -> RunState:
        return self._state

    @property
    def changes(self) -> Sequence[AppliedChange]:
        return self._log.entries

    @property
    def events(self) -> int:
        return self._events

    @property
    def wall_seconds(self) -> float:
        return self._wall

    @property
    def opened(self) -> bool:
        return True  # the queue is in memory: nothing to open

    async def open(self) -> None:
        """Nothing to open: the simulator's queue and dead letters live in the engine."""

    async def aclose(self) -> None:
        """Nothing to close."""

    @property
    def notices(self) -> Sequence[str]:
        return self._notices  # timeline changes the scenario refused when they fell due

    @property
    def found(self) -> FoundTasks:
        return FoundTasks()  # the simulator's queue starts empty with every run

    async def purge_found(self) -> FoundTasks:
        return FoundTasks()

    @property
    def shared(self) -> str | None:
        return None

    @property
    def audit_failures(self) -> Sequence[tuple[float, str]]:
        return ()

    def start(self) -> None:
        """Create the pool and the first arrival; time starts at 0."""
        if self._state is not RunState.IDLE:
            return
        s = self._scenario
        p = s.pool
        self.recorder.workers_changed(0.0, 0)
        for _ in range(initial_workers(p)):
            self._add_worker(cold=False)
        first = self._models.arrivals.next_after(0.0)
        self._next_arrival = math.inf if first is None else first
        self._push(s.run.sample_interval, _SAMPLE, None)
        if 0.0 < s.run.warmup < s.run.duration:
            self._push(s.run.warmup, _WARM, None)
        if self._autoscaler is not None:
            self._push(self._autoscaler.next_check(0.0, p.check_interval), _CHECK,
                       self._check_gen)
        if self._player.next_at() < math.inf:
            self._push(self._player.next_at(), _TIMELINE, None)
        self._state = _RUNNING
        self._rebase()

    def pause(self) -> None:
        if self._state is _RUNNING:
            self._state = RunState.PAUSED

    def resume(self) -> None:
        if self._state is RunState.PAUSED:
            self._state = _RUNNING
            self._rebase()

    async def stop(self, drain: bool = True) -> None:
        """End the run now. Virtual workers have nothing to hand back, so drain changes nothing."""
        if self._state is not _FINISHED:
            self._state = _FINISHED

    def set_speed(self, speed: float | None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError(f"speed: must be > 0 or None for as fast as possible (got {speed})")
        self._speed = speed
        self._rebase()

    def _rebase(self) -> None:
        self._pace_wall = time.perf_counter()
        self._pace_virtual = self.now

    def advance(self, budget: float) -> None:
        """Simulate for at most `budget` wall seconds, keeping pace with the chosen speed."""
        if self._state is not _RUNNING:
            return
        wall = time.perf_counter()
        if self._speed is None:
            target = self._end
        else:
            target = self._pace_virtual + (wall - self._pace_wall) * self._speed
            if target - self.now > self._speed:  # more than a second behind: drop the debt
                self._pace_virtual = self.now
                self._pace_wall = wall - 1.0
                target = self.now + self._speed
        self.run_until(min(target, self._end), wall + budget)

    def run_until(self, t: float, deadline: float = math.inf) -> None:
        """Process every event up to virtual time `t`, or until the wall clock passes `deadline`."""
        if self._state is RunState.IDLE:
            self.start()
        if self._state is _FINISHED:
            return
        self._timed_loop(min(t, self._end), deadline, -1)

    def run_for(self, wall_budget: float) -> None:
        """Run toward the end for at most `wall_budget` wall seconds."""
        self.run_until(self._end, time.perf_counter() + wall_budget)

    def run(self) -> None:
        """Run to the end of the scenario."""
        self.run_until(self._end)

    async def run_slice(self, budget: float) -> None:
        """Compute toward the end for `budget` wall seconds, then let the loop run (a signal
        handler asking to stop, say)."""
        self.run_for(budget)
        await asyncio.sleep(0)

    async def wait(self) -> None:
        """Nothing runs in the background: a failure was raised by the call that hit it."""

    def step(self) -> bool:
        """Process exactly one event; False once the run is finished."""
        if self._state is RunState.IDLE:
            self.start()
        if self._state is _FINISHED:
            return False
        self._timed_loop(self._end, math.inf, 1)
        return self._state is not _FINISHED

    def next_event(self) -> str:
        """What `step()` processes next, in words: the line a stepped run's event log shows."""
        if self._state is RunState.IDLE:
            return "the run starts: the pool is created and the first arrival drawn"
        top = self._heap[0] if self._heap else None
        na = self._next_arrival
        if (top is None and na == math.inf) or self._state is _FINISHED:
            return "nothing: the run is over"
        if top is None or na <= top.time:
            return f"{na:,.3f} s: arrival of task {self._created + 1}"
        t, code, subject = top.time, top.code, top.subject
        at = f"{t:,.3f} s: "
        if code == _FINISH:
            w: SimWorker = subject
            if not w.alive or w.task is None:
                return at + f"worker {w.name}'s attempt was cut short earlier: nothing happens"
            return at + (f"worker {w.name} ends its attempt at task {w.task[0]}: "
                         f"{w.outcome.value}")
        if code == _RETRY:
            return at + f"task {subject[0]}'s backoff ends: it joins the queue again"
        if code == _INLINE:
            return at + f"worker {subject.name}'s inline backoff ends: it tries its task again"
        if code == _SAMPLE:
            return at + "a metrics frame closes"
        if code == _WARM:
            return at + "the warm-up ends: the summary counts from here"
        if code == _CHECK:
            return at + ("the autoscaler checks the backlog" if subject == self._check_gen
                         else "a superseded autoscaler check: nothing happens")
        if code == _READY:
            return at + f"worker {subject.name}'s cold start ends: it takes work"
        if code == _WAKE:
            return at + "the circuit breaker's wait ends: held workers may take work"
        if code == _KILL:
            return at + (f"worker {subject[0].name}'s termination grace ends: killed if still "
                         "busy, its task back to the queue")
        if code == _EXPIRE:
            return at + (f"task {subject[0]}'s caller times out: it started in time, nothing "
                         "happens" if subject[FIRST_START] >= 0.0 else
                         f"task {subject[0]}'s caller times out waiting: it gives up or "
                         "retries")
        if code == _RESEND:
            return at + f"a caller's retry {subject[0]} arrives as task {self._created + 1}"
        due = self._player.due(t)
        if not due:
            return at + "a timeline wake-up with nothing left to play"
        return at + "; ".join(
            f"timeline[{d.index}] {'restores' if d.restore else 'sets'} {d.path} = {d.value!r}"
            for d in due)

    def _timed_loop(self, t_limit: float, deadline: float, max_events: int) -> None:
        """Run the loop with the cyclic garbage collector paused.

        The loop allocates a task per arrival and frees it by reference counting (tasks,
        workers and heap entries form no cycles), so the collector's periodic scans of the
        young generation would only cost time: about a fifth of a run's. It is switched
        back on after every slice.
        """
        collecting = gc.isenabled()
        gc.disable()
        began = time.perf_counter()
        try:
            self._loop(t_limit, deadline, max_events)
            while self._replan and max_events < 0 and self._state is _RUNNING:
                self._loop(min(t_limit, self._end), deadline, max_events)
        finally:
            self._wall += time.perf_counter() - began
            if collecting:
                gc.enable()

    def take_frames(self) -> list[MetricsFrame]:
        frames = list(self._frames)
        self._frames.clear()
        return frames

    def workers(self) -> list[WorkerInfo]:
        return [w.info() for w in self._workers.values()]

    def totals(self) -> Totals:
        return Totals(
            created=self._created,
            waiting=self._waiting,
            in_flight=self._busy + len(self._prefetched),
            retrying=self._retrying,
            done=self._done,
            dead_lettered=len(self.dead),
            discarded=self._discarded,
            rejected=self._rejected,
            abandoned=self._abandoned,
        )

    def summary(self) -> RunSummary:
        self._tally(self.now)
        t = self.totals()
        hist = self.recorder.wait_histogram
        # the share of tasks that waited at all: Erlang C's P(wait), measured exactly here
        # (virtual time has no timer jitter, so a task served at once waits exactly 0)
        p_wait = 1.0 - hist.zeros / hist.count if hist.count else math.nan
        return self.recorder.summary(self.now).with_extras(
            waiting=t.waiting, in_flight=t.in_flight, retrying=t.retrying, p_wait=p_wait,
            final_workers=self._alive, events=self._events, wall_seconds=round(self._wall, 6),
            **self._client_figures(), **self._level_figures(),
        )

    def _level_figures(self) -> dict[str, list[float]]:
        """Under the priority discipline, each level's mean wait after the warm-up and its
        batch-means 95 % half-width, lowest level first (nothing with one level)."""
        if not self._level_waits:
            return {}
        return {"wait_by_level": [b.mean for b in self._level_waits],
                "wait_by_level_ci95": [b.ci95_halfwidth() for b in self._level_waits]}

    def _client_figures(self) -> dict[str, float | int]:
        """The callers' whole-run counts for the summary (`[clients]`; nothing without it)."""
        return self._callers.tally.figures(self._abandoned) if self._clients else {}

    def reference(self) -> MMcPrediction | None:
        """Erlang C's prediction when the scenario is M/M/c, else None."""
        return mmc_reference(self._scenario)

    # ------------------------------------------------------------------ dead letters

    async def dead_letters(self, query: DeadLetterQuery) -> DeadLetterPage:
        return self.dead.page(query, self._scenario.payload.size, self._error_for)

    async def get_dead_letter(self, task_id: str) -> DeadLetter | None:
        return self.dead.get(task_id, self._scenario.payload.size, self._error_for)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        """Put dead letters back at the tail of the queue, each moved in one step."""
        moved = 0
        for tid in task_ids:
            task = self.dead.pop(tid)
            if task is None:
                continue
            if reset_attempts:
                task[ATTEMPTS] = 0
            self._queues[task[PRIORITY] if self._levels > 1 else 0].append(task)
            self._waiting += 1
            moved += 1
        if moved:
            self._m_in_out += self.now * moved  # back in the system (their clock not reset)
            self.recorder.reprocessed(self.now, moved)
            self._record_dead_letter_action("dead_letters.reprocess", moved)
            self._dispatch()
        return moved

    async def discard(self, task_ids: Sequence[str]) -> int:
        gone = sum(1 for tid in task_ids if self.dead.pop(tid) is not None)
        self._discarded += gone
        if gone:
            self._record_dead_letter_action("dead_letters.discard", gone)
        return gone

    def _record_dead_letter_action(self, path: str, n: int) -> None:
        """Mark the step on the plots: `n` dead letters acted on, as one marker per interval."""
        self._log.dead_letter_action(self.now, path, n, len(self.dead),
                                     self._scenario.run.sample_interval)

    # ------------------------------------------------------------------ live changes

    def apply(self, change: ParamChange) -> AppliedChange:
        """Validate a knob change and apply it at the current virtual time."""
        running = self._state is not RunState.IDLE
        old_scenario = self._scenario
        new = with_change(old_scenario, change, running=running, now=self.now)
        self._scenario = new
        if running:
            self._apply_running(change.path, new)
        else:  # nothing has happened yet: rebuild from the new scenario, keep the speed
            speed, log = self._speed, self._log
            self.__init__(new)  # type: ignore[misc]
            self._speed, self._log = speed, log
        return self._log.knob(self.now, change.path, old_scenario.get(change.path),
                              new.get(change.path))

    def _apply_running(self, path: str, s: Scenario) -> None:
        """Act on the route the knob takes (`core.changes`), as the live engine does."""
        r = route(path, s.pool.strategy)
        p = s.pool
        if r is Route.ARRIVALS:
            self._models.build_arrivals(s)  # the pending arrival came from the old process
            nxt = self._models.arrivals.next_after(self.now)
            self._next_arrival = math.inf if nxt is None else nxt
        elif r is Route.SERVICE:
            self._models.build_service(s)
        elif r is Route.FAILURES:
            self._models.build_failures(s)
            self._grow_levels(s)
        elif r is Route.RETRY:
            self._retry.reconfigure(**retry_knobs(s))
            self._inline_mode = s.retry.mode == "inline"
            self._timeout = s.timeouts.task
        elif r is Route.BREAKER:
            self._apply_breaker(s)
        elif r is Route.WORKERS:
            self._resize(initial_workers(p))
        elif r is Route.CONCURRENCY:
            self._resize(p.concurrency)
        elif r is Route.PREFETCH:
            self._prefetch = p.prefetch
            self._refill_prefetch()
        elif r is Route.CLIENTS:
            self._callers.reconfigure(self._fresh(), **clients_knobs(s))
            self._clients = self._clients or self._callers.active
        elif r is Route.DURATION:
            self._end = s.run.duration
            if self._state is _FINISHED and self.now < self._end:
                self._state = RunState.PAUSED
        elif self._autoscaler is not None:
            self._apply_autoscaler(r, s)
        # STARTUP_DELAY, TERMINATION_GRACE: read from the scenario at the next cold start or
        # drain; CLAIMS: live only

    def _apply_autoscaler(self, r: Route | None, s: Scenario) -> None:
        assert self._autoscaler is not None
        p = s.pool
        if r is Route.CHECK_INTERVAL:
            if p.autoscaler == "keda":  # its HPA sync period
                self._autoscaler.reconfigure(**autoscaler_knobs(s))
            self._check_gen += 1
            self._push(self._autoscaler.next_check(self.now, p.check_interval), _CHECK,
                       self._check_gen)
        elif r is Route.AUTOSCALER:
            self._autoscaler = autoscaler_for(s)
        elif r in (Route.AUTOSCALER_KNOBS, Route.POOL_BOUNDS):
            self._autoscaler.reconfigure(**autoscaler_knobs(s))
            if r is Route.POOL_BOUNDS:
                current = self._alive - self._draining_count()
                self._resize(min(max(current, p.min_workers), p.max_workers))

    def _play_timeline(self, t: float) -> None:
        """Apply the timeline's changes due at `t` as changes by hand; wake it again."""
        player = self._player
        self._notices += play_due(player, t, self._scenario.get,
                                  lambda path, value: self.apply(ParamChange(path, value)))
        if player.next_at() < math.inf:
            self._push(player.next_at(), _TIMELINE, None)
        self._replan = True

    def _grow_levels(self, s: Scenario) -> None:
        """More priority levels than before: the priority queue gets a FIFO for each."""
        weights = s.priorities.weights
        if s.queue.discipline == "priority":
            while len(self._queues) < len(weights):
                self._queues.append(deque())
            while 1 < len(self._level_waits) < len(weights):
                self._level_waits.append(BatchMeans())
            self._levels = max(self._levels, len(weights))

    def _apply_breaker(self, s: Scenario) -> None:
        self._breaker = breaker_for(s, self._breaker)
        if self._breaker is None:
            self._dispatch()  # workers the breaker held back may start now

    # ------------------------------------------------------------------ the event loop

    def _push(self, t: float, code: int, subject: object) -> None:
        self._seq += 1
        _heappush(self._heap, Event(t, self._seq, code, subject))

    def _loop(self, t_limit: float, deadline: float, max_events: int) -> None:
        """The event loop.

        Arrivals stay out of the heap (the next one is a single float compared with the heap's
        top), and arrivals and finishes that free a worker, nearly every event of a run, are
        handled inline on local names, their metrics counted in locals and handed to the
        recorder in bulk at each frame; the attempt either of them starts is written once, at
        the bottom of the loop (`_start`, inlined). Everything rarer goes through a method.
        This is what buys an hour of traffic in a fraction of a second. With `fast_path`
        off, every event goes through the methods: tests/sim/test_fast_path.py requires the
        two to write identical frames.
        """
        self._replan = False
        if self._state is not _RUNNING and max_events < 0:
            return
        heap = self._heap
        next_after = self._models.arrivals.next_after
        # draws as iterators: next() on them costs no call (core.streams.draws)
        service_draws = draws(self._models.service.draw)
        idle = self._idle
        queue0 = self._queues[0]
        max_waiting = self._max_waiting
        wait_append = self._m_waits.append
        popleft, enqueue = queue0.popleft, queue0.append
        clock = time.perf_counter
        # module-level names the hot path reads, as locals (a global lookup costs a dict probe)
        FINISH, SUCCEEDED, FAILED, TIMED_OUT = _FINISH, _SUCCEEDED, _FAILED, _TIMED_OUT
        BUSY, IDLE, push, pop, replace = _BUSY, _IDLE, heappush, heappop, heapreplace
        inf = math.inf
        take = next  # compiled code looks a builtin up on every use; a local is looked up once
        # Knobs only `apply` changes, and `apply` never runs inside this loop.
        simple = (self.fast_path and self._breaker is None and self._levels == 1
                  and not self._prefetch and not self._clients)
        p_fail, p_poison, timeout = self._models.p_fail, self._models.p_poison, self._timeout
        # every decision draws from its own stream, used or not (common random numbers)
        poisons = draws(self._models.streams.poison)
        fates = draws(self._models.streams.attempt)
        levels = draws(self._models.streams.priority)
        requeue = not self._inline_mode  # a failed attempt frees its worker
        gap = getattr(self._models.arrivals, "gap", None)  # a renewal process: next = now + gap
        gaps = draws(gap) if gap is not None else None
        mix = self._models.mix
        # A poison fraction of 0 or a single level uses no per-task draw: the loop takes them
        # all at its end instead (`skip`), one per task as ever; nothing else draws them.
        any_poison, any_levels = p_poison > 0.0, mix is not None
        # fresh arrivals draw a level and a poison, the callers' retries do not
        created_before = self._created - self._callers.tally.retries
        na = self._next_arrival
        # The counters the hot paths touch live in locals; they are written back to the
        # engine before any method runs and read again after it. The sums are carried, not
        # restarted, so that they add up in the order the methods would add them.
        created, busy, waiting, done = self._created, self._busy, self._waiting, self._done
        service_sum, busy_sum = self._m_service, self._m_busy_started
        in_out, sojourn = self._m_in_out, self._m_sojourn
        handled = 0
        check_at = 1 if max_events > 0 else _CLOCK_EVERY
        now = self.now
        task: SimTask
        w: SimWorker
        subject: Any
        start = False  # an attempt of `task` by `w` starts at t (below)
        in_place = False  # … and its finish replaces the heap's top entry
        while True:
            top = heap[0].time if heap else inf
            if na <= top:
                t = na
                if t > t_limit:
                    break
                now = t
                # ---- an arrival
                created += 1
                priority = mix.level(take(levels)) if mix is not None else 0
                poison = any_poison and take(poisons) < p_poison
                if gaps is not None:
                    na = t + take(gaps)
                else:
                    after = next_after(t)
                    na = inf if after is None else after
                # a task is entities.new_task's list, written out here: the hot path
                task = [created, priority, t, poison, 0, -1.0, None]
                if not simple:
                    self.now, self._created, self._busy = t, created, busy
                    self._waiting, self._done = waiting, done
                    self._m_service, self._m_busy_started = service_sum, busy_sum
                    self._m_in_out, self._m_sojourn = in_out, sojourn
                    self._place(task, t)
                    created, busy, waiting, done = (self._created, self._busy, self._waiting,
                                                    self._done)
                    service_sum, busy_sum = self._m_service, self._m_busy_started
                    in_out, sojourn = self._m_in_out, self._m_sojourn
                elif idle:  # straight to a worker: its first attempt starts now
                    w = idle.pop()
                    start = True
                    in_place = False
                    in_out += t
                elif waiting < max_waiting:
                    enqueue(task)
                    waiting += 1
                    in_out += t
                else:  # load shedding: the queue is full
                    self._rejected += 1
            else:
                t = top
                if t > t_limit:
                    break
                now = t
                entry = heap[0]  # popped below, or replaced by the next finish
                code, subject = entry.code, entry.subject
                # (w: SimWorker, so compiled code reads its fields directly)
                if code == FINISH and simple and not (w := subject).draining and (
                        w.outcome is SUCCEEDED or requeue):
                    # ---- an attempt ends and the worker moves on (`_finish`, inlined)
                    busy -= 1
                    service_sum += w.duration
                    in_place = True
                    if w.outcome is SUCCEEDED:
                        done += 1
                        w.processed += 1
                        in_out -= t
                        finished: SimTask = w.task  # a busy worker holds a task
                        created_at: float = finished[CREATED]  # unboxed once: float arithmetic
                        sojourn += t - created_at
                    else:  # retried later from the queue, or dead-lettered: never a counter here
                        self._m_failed += 1
                        w.failed += 1
                        pop(heap)  # before the retry's own event is pushed
                        in_place = False
                        self._failed_attempt(w, w.task, t)
                    if waiting:  # straight on to the next task, FIFO
                        waiting -= 1
                        task = popleft()
                        start = True
                    else:
                        if in_place:
                            pop(heap)
                        w.task = None
                        w.state = IDLE
                        idle.append(w)
                else:
                    pop(heap)
                    # ---- anything else: through the engine's methods, counters synced
                    self.now, self._created, self._busy = t, created, busy
                    self._waiting, self._done = waiting, done
                    self._m_service, self._m_busy_started = service_sum, busy_sum
                    self._m_in_out, self._m_sojourn = in_out, sojourn
                    if code == FINISH:
                        if subject.alive:  # (not the finish of an attempt cut short by _kill)
                            self._busy -= 1
                            self._finish(subject)
                    elif code == _RETRY:
                        self._retry_due(subject)
                    elif code == _SAMPLE:
                        self._sample(t)
                    elif code == _WARM:
                        self._tally(t)
                    elif code == _CHECK:
                        if subject == self._check_gen:
                            self._check(t)
                    elif code == _READY:
                        self._ready(subject)
                    elif code == _INLINE:
                        self._inline_due(subject)
                    elif code == _WAKE:
                        self._wake_at = inf
                        self._dispatch()
                    elif code == _KILL:
                        self._kill(subject[0], subject[1])
                    elif code == _EXPIRE:
                        self._expire(subject)
                    elif code == _RESEND:
                        self._resend(subject)
                    elif code == _TIMELINE:  # the knobs cached above may change: end the pass
                        self._next_arrival = na
                        self._play_timeline(t)
                        na = self._next_arrival
                        check_at = 0
                    created, busy, waiting, done = (self._created, self._busy, self._waiting,
                                                    self._done)
                    service_sum, busy_sum = self._m_service, self._m_busy_started
                    in_out, sojourn = self._m_in_out, self._m_sojourn
            if start:
                # ---- worker `w` begins an attempt at `task` (`_start`, inlined: the only copy)
                start = False
                task[ATTEMPTS] += 1
                first_start: float = task[FIRST_START]  # typed: compared and subtracted unboxed
                if first_start < 0.0:
                    task[FIRST_START] = t
                    created_at = task[CREATED]
                    wait_append(t - created_at)
                duration = take(service_draws)
                outcome = SUCCEEDED
                if take(fates) < p_fail or task[POISON]:
                    outcome = FAILED
                if timeout and duration > timeout:
                    duration = timeout
                    outcome = TIMED_OUT
                w.task = task
                w.state = BUSY
                w.started = t
                w.duration = duration
                w.outcome = outcome
                busy_sum += duration
                busy += 1
                if in_place:  # one sift instead of a pop's and a push's
                    self._seq += 1
                    replace(heap, Event(t + duration, self._seq, FINISH, w))
                else:
                    self._seq += 1
                    push(heap, Event(t + duration, self._seq, FINISH, w))
            handled += 1
            if handled >= check_at:  # one comparison per event covers the step, the clock and
                if handled == max_events or self._replan:  # a timeline change
                    break
                check_at = handled + _CLOCK_EVERY
                if clock() > deadline:
                    break
        self.now = now
        self._created, self._busy, self._waiting, self._done = created, busy, waiting, done
        self._next_arrival = na
        self._m_service, self._m_busy_started = service_sum, busy_sum
        fresh = created - self._callers.tally.retries - created_before
        self._m_in_out, self._m_sojourn = in_out, sojourn
        if not any_poison:
            skip(poisons, fresh)
        if not any_levels:
            skip(levels, fresh)
        self._events += handled
        if handled == max_events or min(na, heap[0].time if heap else inf) <= t_limit:
            return  # stopped early: a step, a timeline change, or the wall-clock budget ran out
        if t_limit >= self._end:
            self.now = self._end
            self._state = _FINISHED
        else:
            self.now = max(self.now, t_limit)

    # ------------------------------------------------------------------ event handlers

    def _place(self, task: SimTask, t: float) -> None:
        """A new task meets the pool: an idle worker takes it at once, or it joins the queue."""
        idle = self._idle
        if idle and not self._prefetched and (self._breaker is None or self._breaker.allow(t)):
            self._m_in_out += t
            self._start(idle.pop(), task, t)
            return
        if self._waiting >= self._max_waiting:  # load shedding: the queue is full
            self._rejected += 1
            return
        self._m_in_out += t
        self._queues[task[PRIORITY] if self._levels > 1 else 0].append(task)
        self._waiting += 1
        if self._callers.timeout:  # its caller waits this long for it to start
            self._push(t + self._callers.timeout, _EXPIRE, task)
        if idle:
            self._dispatch()
        elif self._prefetch:
            self._refill_prefetch()

    def _start(self, w: SimWorker, task: SimTask, t: float) -> None:
        """Worker `w` begins an attempt at `task` now: draw its length and its fate."""
        task[ATTEMPTS] += 1
        wait = None
        if task[FIRST_START] < 0.0:
            task[FIRST_START] = t
            wait = t - task[CREATED]
        outcome, duration = self._models.attempt(task[POISON], self._timeout)
        w.task = task
        w.state = _BUSY
        w.started = t
        w.duration = duration
        w.outcome = outcome
        if self._breaker is not None:  # results from before a breaker state change are ignored
            w.epoch = self._breaker.epoch
        self._busy += 1
        self._m_busy_started += duration
        if wait is not None:
            self._m_waits.append(wait)
            if self._level_waits and t >= self.recorder.warmup_end:
                self._level_waits[task[PRIORITY]].add(wait)
        self._seq += 1
        heappush(self._heap, Event(t + duration, self._seq, _FINISH, w))

    def _finish(self, w: SimWorker) -> None:
        """An attempt ended (the loop has already counted the worker as no longer busy)."""
        t = self.now
        task = w.task
        assert task is not None
        ok = w.outcome is _SUCCEEDED
        self._m_service += w.duration
        if not ok:
            self._m_failed += 1
        if self._gone and task[NUMBER] in self._gone:  # its caller had gone: wasted work
            self._callers.tally.wasted(w.duration, ok)
            if ok:
                self._gone.discard(task[NUMBER])
        breaker = self._breaker
        w.task = None
        if ok:
            self._done += 1
            w.processed += 1
            self._m_in_out -= t
            self._m_sojourn += t - task[CREATED]
            if breaker is not None:
                breaker.record_success(t, w.epoch)
        else:
            w.failed += 1
            if breaker is not None:
                breaker.record_failure(t, w.epoch)
            if self._failed_attempt(w, task, t):  # inline retry: it sleeps holding the task
                return
        self._release(w, t)

    def _failed_attempt(self, w: SimWorker, task: SimTask, t: float) -> bool:
        """Retry or dead-letter a failed attempt; True when the worker keeps the task
        through the backoff (inline mode)."""
        then = settle(w.outcome, task[ATTEMPTS], self._retry, next(self._jitters),
                      inline=self._inline_mode)
        backoff = then.backoff
        history(task).append((w.started, t, w.outcome, backoff, w.number))
        if backoff is None:  # Action.DEAD_LETTER
            self._gone.discard(task[NUMBER])
            self.dead.add(task, t, *self._error_for(w.outcome, task[POISON]))
            self.recorder.dead_lettered(t)
            self._m_dead_out += t
            self._m_dead_sojourn += t - task[CREATED]
            return False
        self._retrying += 1
        self.recorder.retried(t)
        if then.action is _HOLD:
            w.task = task
            w.state = _BACKING_OFF
            self._push(t + backoff, _INLINE, w)
            return True
        self._push(t + backoff, _RETRY, task)
        return False

    def _release(self, w: SimWorker, t: float) -> None:
        """The worker is free: leave if draining, else take the next task or go idle."""
        if w.draining:
            self._remove(w)
            return
        task = self._next_task()
        if task is not None and (self._breaker is None or self._breaker.allow(t)):
            self._start(w, task, t)
            if self._prefetch:
                self._refill_prefetch()
            return
        if task is not None:  # the breaker said no: put it back where it was
            self._unpop(task)
            self._arm_wake()
            w.state = _BLOCKED
            self._blocked = True
        else:
            w.state = _IDLE
        self._idle.append(w)

    def _retry_due(self, task: SimTask) -> None:
        self._retrying -= 1
        self._queues[task[PRIORITY] if self._levels > 1 else 0].append(task)
        self._waiting += 1
        self._dispatch()

    def _fresh(self) -> int:
        """Arrivals from the arrival process so far (client retries are the rest)."""
        return self._created - self._callers.tally.retries

    def _expire(self, task: SimTask) -> None:
        """A caller's timeout: if its task has not started, the caller abandons it and
        retries or gives up (`core.clients`); the task stays where it is."""
        if task[FIRST_START] >= 0.0:
            return  # it started in time
        self._gone.add(task[NUMBER])
        u = self._models.client_jitter()  # drawn for every abandoned task, retried or not
        tries = task[TRIES] if len(task) > TRIES else 0
        verdict = self._callers.abandon(tries, self._fresh(), u, self._retry)
        if verdict.backoff is None:
            return  # it gives up
        self._push(self.now + verdict.backoff, _RESEND, (tries + 1, task[PRIORITY], task[POISON]))

    def _resend(self, request: tuple[int, int, bool]) -> None:
        """A caller's retry arrives: a new task of the same request, placed as any arrival."""
        tries, priority, poison = request
        self._created += 1
        self._callers.tally.retries += 1  # created, but it draws nothing (the same request)
        # a retry's record carries its request's retry count as an eighth field
        self._place([self._created, priority, self.now, poison, 0, -1.0, None, tries], self.now)

    def _inline_due(self, w: SimWorker) -> None:
        task = w.task
        assert task is not None
        self._retrying -= 1
        w.task = None
        admitted = self._breaker is None or self._breaker.allow(self.now)
        if after_backoff(admitted) is _TRY_AGAIN:
            self._start(w, task, self.now)
            return
        self._queues[task[PRIORITY] if self._levels > 1 else 0].appendleft(task)
        self._waiting += 1
        self._arm_wake()
        self._release(w, self.now)

    def _ready(self, w: SimWorker) -> None:
        """A cold-started worker is ready for work."""
        if not w.alive or w.draining:
            return
        w.state = _IDLE
        self._release(w, self.now)

    def _tally(self, t: float) -> None:
        """Hand the inline counts to the recorder; busy time comes from attempts' known ends.

        Every attempt runs exactly the duration drawn when it started, so the busy
        worker-seconds since the last tally are the durations started since then, plus what
        was still to run at the last tally, minus what is still to run now.
        """
        carry = 0.0
        for w in self._workers.values():
            if w.state is _BUSY:
                end = w.started + w.duration
                if end > t:
                    carry += end - t
        area = max(0.0, self._m_busy_started + self._busy_carry - carry)  # no rounding below 0
        self._busy_carry = carry
        arrived = self._created - self._tallied_created
        ok = self._done - self._tallied_done
        self._tallied_created, self._tallied_done = self._created, self._done
        # time in system since the last tally: n(t)·t - n(last)·last - Σ entries + Σ leavings
        # (each entry at s adds t - s, each leaving at s takes t - s away)
        in_system = self._waiting + self._busy + len(self._prefetched) + self._retrying
        system_area = (in_system * t - self._system_was * self._system_at
                       - self._m_in_out + self._m_dead_out)
        self._system_at, self._system_was = t, in_system
        self.recorder.add_tally(t, arrived=arrived, ok=ok, failed=self._m_failed,
                                service=self._m_service, waits=self._m_waits, busy_area=area,
                                busy=self._busy, system_area=max(0.0, system_area),
                                sojourn=self._m_sojourn + self._m_dead_sojourn,
                                left=self._m_dropped)
        self._m_in_out = self._m_sojourn = self._m_dead_out = self._m_dead_sojourn = 0.0
        self._m_dropped = 0
        self._m_failed = 0
        self._m_service = self._m_busy_started = 0.0
        self._m_waits.clear()

    def _sample(self, t: float) -> None:
        self._tally(t)
        recorder = self.recorder
        breaker = self._breaker
        tally = self._callers.tally
        frame = recorder.close_frame(
            t,
            depth=self._waiting,
            in_flight=self._busy + len(self._prefetched),
            retrying=self._retrying,
            dead_letters=len(self.dead),
            created=self._created,
            done=self._done,
            rejected=self._rejected,
            abandoned=self._abandoned,
            good=self._done - tally.wasted_done,
            client_timeouts=tally.timeouts,
            client_retries=tally.retries,
            gave_up=tally.gave_up,
            wasted_work=tally.wasted_work,
            breaker_open=breaker is not None and breaker.state(t) != "closed",
        )
        self._frames.append(frame)
        nxt = recorder.next_frame_at
        if nxt <= self._end + 1e-9:
            self._push(nxt, _SAMPLE, None)

    def _check(self, t: float) -> None:
        p = self._scenario.pool
        assert self._autoscaler is not None
        self._push(self._autoscaler.next_check(t, p.check_interval), _CHECK, self._check_gen)
        current = self._alive - self._draining_count()
        arrival_rate, service_rate = self.recorder.recent_rates()
        obs = PoolObservation(backlog=self._waiting, workers=current, busy=self._busy,
                              retrying=self._retrying, arrival_rate=arrival_rate,
                              service_rate=service_rate)
        self._resize(self._autoscaler.decide(t, obs))

    # ------------------------------------------------------------------ queue and pool

    def _next_task(self) -> SimTask | None:
        """The next task a worker picks up; tasks whose caller has gone are dropped on the
        way when the callers say so (`drop_expired`)."""
        task = self._pick()
        while self._gone and task is not None and self._callers.drops(task[NUMBER] in self._gone):
            self._gone.discard(task[NUMBER])
            self._abandoned += 1
            self._m_dead_out += self.now  # it leaves the system unserved
            self._m_dead_sojourn += self.now - task[CREATED]
            self._m_dropped += 1
            task = self._pick()
        return task

    def _pick(self) -> SimTask | None:
        if self._prefetched:
            return self._prefetched.popleft()
        if not self._waiting:
            return None
        self._waiting -= 1
        queues = self._queues
        if self._levels == 1:
            return queues[0].popleft()
        for level in range(self._levels - 1, -1, -1):
            q = queues[level]
            if q:
                return q.popleft()
        raise AssertionError("waiting count says a task is queued but every level is empty")

    def _unpop(self, task: SimTask) -> None:
        self._queues[task[PRIORITY] if self._levels > 1 else 0].appendleft(task)
        self._waiting += 1

    def _refill_prefetch(self) -> None:
        """Semaphore pool: claim tasks ahead of free slots, up to `prefetch` of them."""
        limit = self._prefetch
        while len(self._prefetched) < limit and self._waiting:
            task = self._next_task_from_queue()
            self._prefetched.append(task)

    def _next_task_from_queue(self) -> SimTask:
        held, self._prefetched = self._prefetched, deque()
        try:
            task = self._pick()
        finally:
            self._prefetched = held
        assert task is not None
        return task

    def _dispatch(self) -> None:
        """Match idle workers with waiting tasks while the breaker lets work through."""
        idle = self._idle
        t = self.now
        while idle and (self._waiting or self._prefetched):
            if self._breaker is not None and not self._breaker.allow(t):
                self._arm_wake()
                for w in idle:
                    w.state = _BLOCKED
                self._blocked = True
                return
            task = self._next_task()
            if task is None:  # the rest were dropped: their callers had gone
                break
            self._start(idle.pop(), task, t)
        if self._blocked and (self._breaker is None or self._breaker.state(t) == "closed"):
            self._blocked = False
            for w in idle:
                w.state = _IDLE
        if self._prefetch:
            self._refill_prefetch()

    def _arm_wake(self) -> None:
        breaker = self._breaker
        if breaker is None:
            return
        at = breaker.next_change(self.now)
        if at is not None and at < self._wake_at:
            self._wake_at = at
            self._push(at, _WAKE, None)

    def _add_worker(self, cold: bool) -> None:
        self._worker_seq += 1
        n = self._worker_seq
        semaphore = self._scenario.pool.strategy == "semaphore"
        delay = self._scenario.pool.startup_delay if cold else 0.0
        state = _STARTING if delay > 0 else _IDLE
        w = SimWorker(n, f"slot-{n}" if semaphore else f"w{n}", self.now, state)
        self._workers[n] = w
        self._alive += 1
        self.recorder.workers_changed(self.now, self._alive)
        if delay > 0:
            self._push(self.now + delay, _READY, w)
        elif self._state is RunState.IDLE:
            self._idle.append(w)
        else:
            self._release(w, self.now)

    def _remove(self, w: SimWorker) -> None:
        w.alive = False
        del self._workers[w.number]
        self._alive -= 1
        self.recorder.workers_changed(self.now, self._alive)

    def _draining_count(self) -> int:
        return sum(1 for w in self._workers.values() if w.draining)

    def _resize(self, target: int) -> None:
        """Reach `target` workers by the shared plan (core.policies.resize): none killed busy."""
        plan = plan_resize(list(self._workers.values()), target,
                           draining=lambda w: w.draining,
                           starting=lambda w: w.state is _STARTING,
                           idle=lambda w: w.task is None)
        for w in plan.undrain:
            w.draining = False
        for _ in range(plan.add):
            self._add_worker(cold=True)
        for w in plan.remove:
            if w in self._idle:
                self._idle.remove(w)
            self._remove(w)
        grace = self._scenario.pool.termination_grace
        for w in plan.drain:
            w.draining = True
            w.drained_at = self.now
            if grace > 0:
                self._push(self.now + grace, _KILL, (w, self.now))

    def _kill(self, w: SimWorker, drained_at: float) -> None:
        """The termination grace is over: a worker still draining from then and still in an
        attempt is killed; the task goes back to the end of its queue, the attempt spent (as a
        live pool's hand-back nacks it). A worker in an inline backoff is left to finish it."""
        if not w.alive or not w.draining or w.drained_at != drained_at or w.state is not _BUSY:
            return
        task = w.task
        assert task is not None
        t = self.now
        self._m_busy_started -= w.started + w.duration - t  # it was booked in full at start
        self._busy -= 1
        history(task).append((w.started, t, Outcome.ABANDONED, None, w.number))
        w.task = None
        self._queues[task[PRIORITY] if self._levels > 1 else 0].append(task)
        self._waiting += 1
        self._remove(w)
        self._dispatch()
