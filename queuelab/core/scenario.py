"""The whole experiment as frozen dataclasses: what the user edits, saves and changes live.

Each section is a frozen dataclass whose fields are knobs (`core.knobs.knob`): the field
carries its default, label, unit, range and one-line help. Reading, validation, the
commented default file and the GUI form are all derived from these declarations
(`core.scenario_toml`, `core.validation`), so this file is the one place a knob is described.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from queuelab.core import limits as L
from queuelab.core.clients import BUDGET_TOKENS
from queuelab.core.knobs import Knob, knob
from queuelab.core.timeline import TimelineEntry

FORMAT = 1

ARRIVAL_PROCESSES = ("constant", "poisson", "bursty", "ramp", "sine", "spike", "trace")
SERVICE_DISTRIBUTIONS = ("constant", "exponential", "uniform", "lognormal", "pareto", "empirical")
STRATEGIES = ("single", "fixed", "dynamic", "semaphore")
AUTOSCALERS = ("threshold", "target", "keda")
SELECT_POLICIES = ("Max", "Min", "Disabled")
DISCIPLINES = ("fifo", "priority")
JITTERS = ("none", "full", "equal")
RETRY_MODES = ("requeue", "inline")


def _when(key: str, *values: str) -> tuple[str, tuple[str, ...]]:
    return (key, values)


# The bounds a real system could have (`core.limits`), spelled once per kind of value.
TIME: dict[str, Any] = {"tick": L.TICK, "maximum": L.MAX_SECONDS}
RATE: dict[str, Any] = {"maximum": L.MAX_RATE}
BACKLOG: dict[str, Any] = {"maximum": L.MAX_BACKLOG}


@dataclass(frozen=True, slots=True)
class RunConfig:
    """How long, how reproducible and how finely sampled a run is."""

    duration: float = knob(3600.0, "Duration", "Length of the run in scenario seconds.",
                           unit="s", minimum=0.0, exclusive_minimum=True, step=60, **TIME)
    warmup: float = knob(60.0, "Warm-up", "Leading seconds left out of the summary, so "
                         "the empty start does not flatter the waits.", unit="s", minimum=0.0,
                         live=False, step=10, **TIME)
    seed: int = knob(1, "Seed", "Random seed: the same scenario and seed give the same run.",
                     minimum=0, maximum=2**63 - 1, live=False)
    sample_interval: float = knob(1.0, "Sample interval", "Seconds between two metric frames.",
                                  unit="s", minimum=0.001, live=False, step=0.5, **TIME)
    time_scale: float = knob(1.0, "Time scale (live)", "Live runs only: every duration is "
                             "multiplied by this, so 0.02 plays 50 scenario seconds per "
                             "wall second.", minimum=0.0, exclusive_minimum=True, maximum=100.0,
                             live=False, step=0.01)


@dataclass(frozen=True, slots=True)
class ArrivalsConfig:
    """When tasks arrive: the load generator."""

    process: str = knob("poisson", "Arrival process", "How arrivals are spread in time: "
                        "evenly (constant), at random (poisson), in bursts, ramping, in waves "
                        "(sine), with one spike, or replayed from a trace.",
                        choices=ARRIVAL_PROCESSES)
    rate: float = knob(3.2, "Rate", "Mean arrivals per second (the base rate of the "
                       "time-varying processes).", unit="tasks/s", minimum=0.0, step=0.1, **RATE)
    burst_rate: float = knob(20.0, "Burst rate", "Arrival rate during a burst.",
                             unit="tasks/s", minimum=0.0,
                             shown_when=_when("process", "bursty"), **RATE)
    burst_length: float = knob(30.0, "Burst length", "How long each burst lasts.", unit="s",
                               minimum=0.0, exclusive_minimum=True,
                               shown_when=_when("process", "bursty"), **TIME)
    quiet_length: float = knob(270.0, "Quiet length", "Time between bursts, at the base rate.",
                               unit="s", minimum=0.0, exclusive_minimum=True,
                               shown_when=_when("process", "bursty"), **TIME)
    to_rate: float = knob(8.0, "Ramp to", "The rate the ramp ends at.", unit="tasks/s",
                          minimum=0.0, shown_when=_when("process", "ramp"), **RATE)
    over: float = knob(1800.0, "Ramp over", "How long the ramp takes.", unit="s", minimum=0.0,
                       exclusive_minimum=True, shown_when=_when("process", "ramp"), **TIME)
    amplitude: float = knob(2.0, "Amplitude", "Swing of the rate around its mean.",
                            unit="tasks/s", minimum=0.0,
                            shown_when=_when("process", "sine"), **RATE)
    period: float = knob(600.0, "Period", "Length of one wave.", unit="s", minimum=0.0,
                         exclusive_minimum=True, shown_when=_when("process", "sine"), **TIME)
    at: float = knob(600.0, "Spike at", "When the spike starts.", unit="s", minimum=0.0,
                     shown_when=_when("process", "spike"), **TIME)
    extra: float = knob(20.0, "Spike extra", "Arrivals per second added during the spike.",
                        unit="tasks/s", minimum=0.0,
                        shown_when=_when("process", "spike"), **RATE)
    length: float = knob(60.0, "Spike length", "How long the spike lasts.", unit="s",
                         minimum=0.0, exclusive_minimum=True,
                         shown_when=_when("process", "spike"), **TIME)
    trace: str = knob("", "Trace file", "CSV of arrival times in seconds (first column), or of "
                      "counts per interval (columns start, end, count; spread as a Poisson "
                      "process in each), relative to the scenario file.",
                      shown_when=_when("process", "trace"),
                      live=False)
    trace_times: tuple[float, ...] = knob((), "Trace data", "Arrival times read from the trace.",
                                          in_file=False, live=False, minimum=0.0,
                                          maximum=L.MAX_SECONDS)


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """How long one attempt at a task takes."""

    distribution: str = knob("exponential", "Distribution", "Shape of the service times: "
                             "exponential gives M/M/c, pareto a heavy tail.",
                             choices=SERVICE_DISTRIBUTIONS)
    mean: float = knob(1.0, "Mean", "Mean service time of one attempt.", unit="s", minimum=0.0,
                       exclusive_minimum=True, step=0.1, **TIME)
    low: float = knob(0.5, "Low", "Shortest service time.", unit="s", minimum=0.0,
                      shown_when=_when("distribution", "uniform"), **TIME)
    high: float = knob(1.5, "High", "Longest service time.", unit="s", minimum=0.0,
                       shown_when=_when("distribution", "uniform"), **TIME)
    sigma: float = knob(1.0, "Sigma", "Spread of the log of the service time.", minimum=0.0,
                        exclusive_minimum=True, maximum=L.MAX_SIGMA,
                        why="a wider lognormal overflows (its variance is mean² × (e^(σ²) − 1))",
                        shown_when=_when("distribution", "lognormal"))
    shape: float = knob(2.5, "Pareto shape", "Tail index: closer to 1 means heavier tails.",
                        minimum=1.0, exclusive_minimum=True, maximum=L.MAX_PARETO_SHAPE,
                        why="a Pareto tail of shape 1 or less has no finite mean",
                        shown_when=_when("distribution", "pareto"))
    path: str = knob("", "Samples file", "CSV of measured service times in seconds.",
                     shown_when=_when("distribution", "empirical"), live=False)
    samples: tuple[float, ...] = knob((), "Samples", "Service times read from the samples file.",
                                      in_file=False, live=False, minimum=0.0, **TIME)
    handler: str = knob("", "Handler (live)", "Live runs only: `package.module:function` "
                        "to run for each task; empty runs the synthetic handler.", live=False)


@dataclass(frozen=True, slots=True)
class FailuresConfig:
    """How attempts fail."""

    probability: float = knob(0.0, "Failure probability", "Chance that one attempt fails.",
                              minimum=0.0, maximum=1.0, step=0.01)
    poison_fraction: float = knob(0.0, "Poison fraction", "Share of tasks that fail every "
                                  "attempt (poison pills).", minimum=0.0, maximum=1.0, step=0.01)


@dataclass(frozen=True, slots=True)
class PrioritiesConfig:
    """How tasks spread over priority levels."""

    weights: tuple[float, ...] = knob((1.0,), "Weights", "Share of tasks per priority level; "
                                      "the last level is the highest.", minimum=0.0,
                                      maximum=1e6)


@dataclass(frozen=True, slots=True)
class PayloadConfig:
    """What each synthetic task carries."""

    size: int = knob(64, "Payload size", "Bytes of JSON padding in each synthetic task.",
                     unit="B", minimum=0, maximum=1_000_000)


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """Where tasks wait and in which order they leave."""

    backend: str = knob("memory://", "Backend", "Where tasks wait: memory://, sqlite:///path, "
                        "postgresql://…, redis://… or amqp://….", live=False)
    discipline: str = knob("fifo", "Discipline", "fifo: oldest first; priority: highest "
                           "level first, oldest first within a level.", choices=DISCIPLINES,
                           live=False)
    lease: float = knob(30.0, "Lease", "How long a claimed task stays invisible to others "
                        "before it is handed out again (live runs). At least 1 s, and never "
                        "under 0.2 s of wall time once scaled: a backend cannot honour a "
                        "lease shorter than a few of its round trips (claim, renewal, ack), "
                        "and every ack would then find its task handed out again.",
                        unit="s", minimum=1.0, **TIME)
    batch: int = knob(1, "Claim batch", "Tasks a worker claims per round trip (live runs).",
                      minimum=1, maximum=1000)
    max_length: int = knob(0, "Max length", "Load shedding: an arrival that finds this many "
                           "tasks waiting is rejected (counted as rejected, not lost); retries "
                           "always re-enter. 0 = unbounded.", unit="tasks", minimum=0,
                           maximum=int(L.MAX_BACKLOG), live=False)


@dataclass(frozen=True, slots=True)
class PoolConfig:
    """Who does the work and how their number changes."""

    strategy: str = knob("fixed", "Strategy", "single worker, a fixed pool, a dynamic "
                         "(autoscaled) pool, or one consumer with a semaphore.",
                         choices=STRATEGIES, live=False)
    workers: int = knob(4, "Workers", "Pool size (fixed), or starting size (dynamic, kept "
                        "within min and max workers).",
                        minimum=1, maximum=L.MAX_WORKERS,
                        shown_when=_when("strategy", "fixed", "dynamic"))
    min_workers: int = knob(1, "Min workers", "The autoscaler never goes below this.",
                            minimum=0, maximum=L.MAX_WORKERS,
                            shown_when=_when("strategy", "dynamic"))
    max_workers: int = knob(20, "Max workers", "The autoscaler never goes above this.",
                            minimum=1, maximum=L.MAX_WORKERS,
                            shown_when=_when("strategy", "dynamic"))
    check_interval: float = knob(5.0, "Check interval", "Seconds between two autoscaler "
                                 "decisions; for keda, the cluster's HPA sync period "
                                 "(15 s in Kubernetes).", unit="s", minimum=0.0,
                                 exclusive_minimum=True,
                                 shown_when=_when("strategy", "dynamic"), **TIME)
    autoscaler: str = knob("threshold", "Autoscaler", "threshold: a simple rule "
                           "(one worker up or down per check); target: Kubernetes HPA-style "
                           "target tracking; keda: a KEDA ScaledObject over the Kubernetes HPA, "
                           "rule for rule (import and export it as YAML).", choices=AUTOSCALERS,
                           shown_when=_when("strategy", "dynamic"))
    scale_up_threshold: float = knob(100.0, "Scale-up threshold", "Add a worker when the "
                                     "backlog is above this.", unit="tasks", minimum=0.0,
                                     shown_when=_when("autoscaler", "threshold"), **BACKLOG)
    scale_down_threshold: float = knob(10.0, "Scale-down threshold", "Remove a worker when the "
                                       "backlog is below this.", unit="tasks", minimum=0.0,
                                       shown_when=_when("autoscaler", "threshold"), **BACKLOG)
    scale_down_max_utilization: float = knob(
        1.0, "Scale-down max utilization", "Capacity-aware scale-down: remove workers only "
        "while the measured arrival rate (new tasks/s over the last minute of frames) over "
        "the capacity left after the step (workers left × the measured attempts per busy "
        "worker-second, 1 / mean service) stays below this. Nothing measured yet: no "
        "scale-down. 1 = off.", minimum=0.0, exclusive_minimum=True, maximum=1.0, step=0.05,
        shown_when=_when("autoscaler", "threshold", "target"))
    target_per_worker: float = knob(10.0, "Target per worker", "Backlog each worker should "
                                    "carry: desired = ceil(backlog / target).", unit="tasks",
                                    minimum=0.0, exclusive_minimum=True,
                                    shown_when=_when("autoscaler", "target", "keda"), **BACKLOG)
    tolerance: float = knob(0.1, "Tolerance", "No change while backlog / (workers × target) is "
                            "within 1 ± tolerance.", minimum=0.0, maximum=1.0,
                            shown_when=_when("autoscaler", "target", "keda"))
    stabilization_up: float = knob(0.0, "Stabilization up", "Scale up to the lowest "
                                   "recommendation of this window (keda: scaleUp."
                                   "stabilizationWindowSeconds).", unit="s", minimum=0.0,
                                   shown_when=_when("autoscaler", "target", "keda"), **TIME)
    stabilization_down: float = knob(300.0, "Stabilization down", "Scale down only to the "
                                     "highest recommendation of this window: stops flapping "
                                     "(keda: scaleDown.stabilizationWindowSeconds).",
                                     unit="s", minimum=0.0,
                                     shown_when=_when("autoscaler", "target", "keda"), **TIME)
    max_step: int = knob(4, "Max step", "Most workers added or removed per decision.",
                         minimum=1, maximum=L.MAX_WORKERS,
                         shown_when=_when("autoscaler", "target"))
    cooldown: float = knob(0.0, "Cooldown", "No further change for this long after a change.",
                           unit="s", minimum=0.0, shown_when=_when("autoscaler", "target"), **TIME)
    activation: float = knob(0.0, "Activation", "With min 0: scale 0 → 1 only above this "
                             "backlog, back to 0 at or below it (keda: the trigger's "
                             "activation value).", unit="tasks", minimum=0.0,
                             shown_when=_when("autoscaler", "target", "keda"), **BACKLOG)
    polling_interval: float = knob(30.0, "Polling interval", "KEDA's pollingInterval: how "
                                   "often it checks the triggers for activation (0 <-> 1).",
                                   unit="s", minimum=0.0, exclusive_minimum=True,
                                   shown_when=_when("autoscaler", "keda"), **TIME)
    cooldown_period: float = knob(300.0, "Cooldown period", "KEDA's cooldownPeriod: how long "
                                  "after the last active poll the pool returns to zero (or "
                                  "the idle count); nothing else waits for it.", unit="s",
                                  minimum=0.0, shown_when=_when("autoscaler", "keda"), **TIME)
    idle_workers: int = knob(-1, "Idle workers", "KEDA's idleReplicaCount: the count while no "
                             "trigger is active, below min workers (-1 = not set; KEDA "
                             "supports only 0).", minimum=-1, maximum=L.MAX_WORKERS,
                             shown_when=_when("autoscaler", "keda"))
    scale_up_policies: str = knob("Percent 100 per 15s, Pods 4 per 15s", "Scale-up policies",
                                  "behavior.scaleUp.policies: how many workers may be added "
                                  "per period, e.g. 'Percent 100 per 15s, Pods 4 per 15s'.",
                                  shown_when=_when("autoscaler", "keda"))
    scale_up_select: str = knob("Max", "Scale-up select", "behavior.scaleUp.selectPolicy: the "
                                "policy allowing the most change (Max), the least (Min), or "
                                "no scaling up (Disabled).", choices=SELECT_POLICIES,
                                shown_when=_when("autoscaler", "keda"))
    scale_down_policies: str = knob("Percent 100 per 15s", "Scale-down policies",
                                    "behavior.scaleDown.policies: how many workers may be "
                                    "removed per period, e.g. 'Pods 4 per 60s, Percent 10 per "
                                    "60s'.", shown_when=_when("autoscaler", "keda"))
    scale_down_select: str = knob("Max", "Scale-down select", "behavior.scaleDown."
                                  "selectPolicy: Max, Min or Disabled (no scaling down).",
                                  choices=SELECT_POLICIES,
                                  shown_when=_when("autoscaler", "keda"))
    startup_delay: float = knob(0.0, "Startup delay", "Cold start: a new worker takes work "
                                "only after this long.", unit="s", minimum=0.0,
                                shown_when=_when("strategy", "dynamic", "fixed"), **TIME)
    termination_grace: float = knob(0.0, "Termination grace", "A removed worker busy with a "
                                    "task gets this long to finish it; then it is killed and "
                                    "the task goes back to the queue, that attempt spent "
                                    "(Kubernetes' terminationGracePeriodSeconds: 30 s by "
                                    "default there). 0: it always finishes.", unit="s",
                                    minimum=0.0, shown_when=_when("strategy", "dynamic",
                                                                  "fixed"), **TIME)
    concurrency: int = knob(8, "Concurrency", "Tasks the semaphore lets run at once.",
                            minimum=1, maximum=L.MAX_WORKERS,
                            shown_when=_when("strategy", "semaphore"))
    prefetch: int = knob(0, "Prefetch", "Tasks claimed ahead of a free slot (held, in "
                         "flight, not yet running).", minimum=0, maximum=L.MAX_WORKERS,
                         shown_when=_when("strategy", "semaphore"))


@dataclass(frozen=True, slots=True)
class RetryConfig:
    """What happens after a failed attempt."""

    max_attempts: int = knob(3, "Max attempts", "Attempts before a task is dead-lettered "
                             "(1 = no retry).", minimum=1, maximum=L.MAX_ATTEMPTS)
    base_delay: float = knob(1.0, "Base delay", "Backoff after the first failure.", unit="s",
                             minimum=0.0, step=0.5, **TIME)
    multiplier: float = knob(2.0, "Multiplier", "Each further backoff is this many times longer.",
                             minimum=1.0, maximum=L.MAX_MULTIPLIER, step=0.5)
    max_delay: float = knob(60.0, "Max delay", "Backoff never exceeds this.", unit="s",
                            minimum=0.0, **TIME)
    jitter: str = knob("full", "Jitter", "none: exact delays; full: uniform in [0, d]; equal: "
                       "d/2 + uniform in [0, d/2]. Jitter spreads retry storms.", choices=JITTERS)
    mode: str = knob("requeue", "Retry mode", "requeue: the task waits in the queue and the "
                     "worker moves on; inline: the worker sleeps through the backoff.",
                     choices=RETRY_MODES)


@dataclass(frozen=True, slots=True)
class TimeoutsConfig:
    """How long an attempt may run."""

    task: float = knob(0.0, "Task timeout", "An attempt running longer fails as timed out "
                       "(0 = no timeout).", unit="s", minimum=0.0, **TIME)


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    """A circuit breaker in front of the handler (absent in a file = none)."""

    enabled: bool = knob(False, "Circuit breaker", "Stop taking work after consecutive "
                         "failures, then probe before resuming.")
    failure_threshold: int = knob(5, "Failure threshold", "Consecutive failures that open it.",
                                  minimum=1, maximum=L.MAX_FAILURE_THRESHOLD)
    open_for: float = knob(30.0, "Open for", "How long it stays open before probing.",
                           unit="s", minimum=0.0, exclusive_minimum=True, **TIME)
    half_open_probes: int = knob(1, "Half-open probes", "Trial tasks let through (and needed "
                                 "to succeed) before it closes.", minimum=1,
                                 maximum=L.MAX_FAILURE_THRESHOLD)


@dataclass(frozen=True, slots=True)
class ClientsConfig:
    """The callers behind the tasks: how long they wait and whether they retry
    (`core.clients`; a timeout of 0 = they wait forever and nothing here applies)."""

    timeout: float = knob(0.0, "Client timeout", "A task still waiting (not started) this "
                          "long is abandoned by its caller (0 = callers wait forever).",
                          unit="s", minimum=0.0, **TIME)
    retries: int = knob(0, "Client retries", "Times a caller sends its request again after "
                        "a timeout: a new task after the [retry] backoff.", minimum=0,
                        maximum=L.MAX_ATTEMPTS)
    retry_budget: float = knob(0.0, "Retry budget", "Token bucket: each fresh arrival adds "
                               f"this many tokens (at most {BUDGET_TOKENS:g} held), a client "
                               "retry costs one, a retry without a token is not sent (0 = no "
                               "budget).",
                               minimum=0.0, maximum=L.MAX_RETRY_BUDGET, step=0.05)
    drop_expired: bool = knob(False, "Drop expired", "Workers drop a task whose caller has "
                              "gone at pick-up (counted abandoned) instead of serving it "
                              "(wasted work).")


def initial_workers(pool: PoolConfig) -> int:
    """How many workers a run starts with: a dynamic pool's start is kept within its bounds."""
    if pool.strategy == "single":
        return 1
    if pool.strategy == "semaphore":
        return pool.concurrency
    if pool.strategy == "dynamic":
        return min(max(pool.workers, pool.min_workers), pool.max_workers)
    return pool.workers


SECTIONS: dict[str, type] = {
    "run": RunConfig,
    "arrivals": ArrivalsConfig,
    "service": ServiceConfig,
    "failures": FailuresConfig,
    "priorities": PrioritiesConfig,
    "payload": PayloadConfig,
    "queue": QueueConfig,
    "pool": PoolConfig,
    "retry": RetryConfig,
    "timeouts": TimeoutsConfig,
    "breaker": BreakerConfig,
    "clients": ClientsConfig,
}


@dataclass(frozen=True, slots=True)
class Scenario:
    """One experiment: load, queue, pool, retry, dead letter, timeouts, breaker, the callers
    and run, and the changes scripted to happen while it runs."""

    name: str = "Untitled"
    description: str = ""
    run: RunConfig = RunConfig()
    arrivals: ArrivalsConfig = ArrivalsConfig()
    service: ServiceConfig = ServiceConfig()
    failures: FailuresConfig = FailuresConfig()
    priorities: PrioritiesConfig = PrioritiesConfig()
    payload: PayloadConfig = PayloadConfig()
    queue: QueueConfig = QueueConfig()
    pool: PoolConfig = PoolConfig()
    retry: RetryConfig = RetryConfig()
    timeouts: TimeoutsConfig = TimeoutsConfig()
    breaker: BreakerConfig = BreakerConfig()
    clients: ClientsConfig = ClientsConfig()
    timeline: tuple[TimelineEntry, ...] = ()  # scripted changes (`[[timeline]]`), in file order

    def get(self, path: str) -> Any:
        """The value at a knob path such as `pool.max_workers`."""
        section, name = split_path(path)
        return getattr(getattr(self, section), name)


@dataclass(frozen=True, slots=True)
class KnobInfo:
    """A knob with its place: what forms and validators iterate over."""

    section: str
    name: str
    kind: type
    default: Any
    knob: Knob

    @property
    def path(self) -> str:
        return f"{self.section}.{self.name}"


_KINDS = {"float": float, "int": int, "str": str, "bool": bool, "tuple[float, ...]": tuple}


def _infos() -> dict[str, KnobInfo]:
    out: dict[str, KnobInfo] = {}
    for section, cls in SECTIONS.items():
        instance = cls()
        for f in fields(cls):
            kind = _KINDS[f.type] if isinstance(f.type, str) else f.type
            out[f"{section}.{f.name}"] = KnobInfo(
                section, f.name, kind, getattr(instance, f.name), f.metadata["knob"]
            )
    return out


KNOBS: dict[str, KnobInfo] = _infos()
"""Every knob by its path, in declaration order: the scenario's one description."""


def split_path(path: str) -> tuple[str, str]:
    """`pool.max_workers` -> ("pool", "max_workers"), or KeyError naming what is unknown."""
    section, _, name = path.partition(".")
    if section not in SECTIONS:
        raise KeyError(f"{path}: unknown section {section!r} (sections: {', '.join(SECTIONS)})")
    if f"{section}.{name}" not in KNOBS:
        raise KeyError(f"{path}: unknown key {name!r} in [{section}]")
    return section, name
