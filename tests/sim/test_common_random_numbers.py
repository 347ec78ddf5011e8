"""Common random numbers: a knob changes its own streams' draws and nobody else's.

Every random decision has a stream of its own (`core.streams.Streams`) and takes its draw
whether or not it is used. The decisions are tapped where the engine consumes them (the
taps go on the shared `core.models.LoadModels`, so they see the compiled loop's draws too),
and for two runs that differ in one knob - from the start or changed mid-run - every stream
the knob does not own (`core.streams.OWNERS`) must have handed out the same draws.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from queuelab.core import models as models_module
from queuelab.core.models import LoadModels
from queuelab.core.scenario import Scenario
from queuelab.core.streams import OWNERS, Streams
from queuelab.core.task import DeadLetterQuery
from queuelab.core.validation import ParamChange, ScenarioError, with_change
from queuelab.sim.engine import SimEngine

Logs = dict[str, list[float]]

BASE = Scenario()
BASE = replace(
    BASE,
    run=replace(BASE.run, duration=300.0, warmup=0.0, sample_interval=5.0, seed=11),
    arrivals=replace(BASE.arrivals, process="poisson", rate=4.0),
    service=replace(BASE.service, distribution="exponential", mean=0.4),
    failures=replace(BASE.failures, probability=0.1, poison_fraction=0.02),
    priorities=replace(BASE.priorities, weights=(1.0, 1.0)),
    pool=replace(BASE.pool, strategy="fixed", workers=2),
    retry=replace(BASE.retry, max_attempts=3, base_delay=0.5, jitter="full"),
    clients=replace(BASE.clients, timeout=3.0, retries=1),  # callers that time out and retry
)

# (knob, values it may take): each example changes one of them between two values
KNOBS: list[tuple[str, list[Any]]] = [
    ("failures.probability", [0.0, 0.001, 0.1, 0.4]),
    ("failures.poison_fraction", [0.0, 0.02, 0.2]),
    ("priorities.weights", [[1.0], [1.0, 1.0], [1.0, 2.0, 3.0]]),
    ("queue.discipline", ["fifo", "priority"]),
    ("retry.max_attempts", [1, 2, 5]),
    ("retry.jitter", ["none", "full", "equal"]),
    ("retry.mode", ["requeue", "inline"]),
    ("service.mean", [0.2, 0.4, 0.45]),
    ("arrivals.rate", [2.0, 4.0, 4.5]),
    ("pool.workers", [1, 2, 4]),
    ("timeouts.task", [0.0, 0.3, 1.0]),
    ("clients.timeout", [0.0, 0.5, 2.0]),
    ("clients.retries", [0, 1, 3]),
    ("clients.retry_budget", [0.0, 0.1, 0.5]),
    ("clients.drop_expired", [False, True]),
]


class Tap:
    """A draw that writes down every value it hands out."""

    def __init__(self, draw: Callable[[], float], log: list[float]) -> None:
        self._draw = draw
        self._log = log

    def __call__(self) -> float:
        x = self._draw()
        self._log.append(x)
        return x


class TappedService:
    def __init__(self, inner: Any, log: list[float]) -> None:
        self._inner = inner
        self.draw = Tap(inner.draw, log)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TappedArrivals:
    """The process's arrival times as the engine asks for them (no `gap`: every one is seen)."""

    def __init__(self, inner: Any, log: list[float]) -> None:
        self._inner = inner
        self._log = log

    def next_after(self, t: float) -> float | None:
        nxt = self._inner.next_after(t)
        if nxt is not None:
            self._log.append(nxt)
        return nxt  # type: ignore[no-any-return]

    def __getattr__(self, name: str) -> Any:
        if name == "gap":
            raise AttributeError(name)
        return getattr(self._inner, name)


@pytest.fixture
def tap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], Logs]]:
    """`tap()` starts a new log; the next engine built writes its draws there."""
    current: list[Logs] = []

    def streams(seed: int) -> Streams:
        s = Streams(seed)
        for name in ("poison", "attempt", "priority", "backoff", "clients"):
            setattr(s, name, Tap(getattr(s, name), current[-1][name]))
        return s

    build_service, build_arrivals = LoadModels.build_service, LoadModels.build_arrivals

    def tapped_service(self: LoadModels, s: Scenario) -> None:
        build_service(self, s)
        self.service = TappedService(self.service, current[-1]["service"])  # type: ignore[assignment]

    def tapped_arrivals(self: LoadModels, s: Scenario) -> Any:
        build_arrivals(self, s)
        self.arrivals = TappedArrivals(self.arrivals, current[-1]["arrivals"])  # type: ignore[assignment]
        return self.arrivals

    monkeypatch.setattr(models_module, "Streams", streams)
    monkeypatch.setattr(LoadModels, "build_service", tapped_service)
    monkeypatch.setattr(LoadModels, "build_arrivals", tapped_arrivals)

    def start() -> Logs:
        current.append(defaultdict(list))
        return current[-1]

    yield start


def owned(stream: str, path: str) -> bool:
    return any(path == o or (o.endswith(".") and path.startswith(o)) for o in OWNERS[stream])


def run(s: Scenario, change: ParamChange | None = None, at: float = 0.0) -> SimEngine:
    e = SimEngine(s)
    if change is not None:
        e.run_until(at)
        e.apply(change)
    e.run()
    e.totals().check()
    return e


def test_every_stream_has_owners_and_every_owner_is_a_knob() -> None:
    assert set(OWNERS) == set(Streams.__slots__)
    for stream, owners in OWNERS.items():
        for owner in owners:
            if owner.endswith("."):
                assert hasattr(BASE, owner[:-1]), (stream, owner)
            else:
                BASE.get(owner)  # raises on an unknown path


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    knob=st.sampled_from(KNOBS),
    picks=st.tuples(st.integers(0, 9), st.integers(0, 9)),  # two different values
    mid_run=st.booleans(),
    seed=st.integers(1, 10_000),
)
def test_a_knob_moves_only_its_own_streams(tap: Callable[[], Logs], knob: tuple[str, list[Any]],
                                          picks: tuple[int, int], mid_run: bool,
                                          seed: int) -> None:
    path, values = knob
    first = picks[0] % len(values)
    second = (first + 1 + picks[1] % (len(values) - 1)) % len(values)
    a_value, b_value = values[first], values[second]
    base = replace(BASE, run=replace(BASE.run, seed=seed))
    try:
        a_scenario = with_change(base, ParamChange(path, a_value))
    except ScenarioError:
        assume(False)
        raise
    logs_a = tap()
    a = run(a_scenario)
    logs_b = tap()
    try:
        if mid_run:
            b = run(a_scenario, ParamChange(path, b_value), at=120.0)
        else:
            b = run(with_change(a_scenario, ParamChange(path, b_value)))
    except ScenarioError:  # not a knob that may change while running
        assume(False)
        raise
    for logs, engine in ((logs_a, a), (logs_b, b)):
        extras = engine.summary().extras
        fresh = engine.totals().created - extras.get("client_retries", 0)
        # one draw per fresh arrival (a client's retry is the same request: no draw), one per
        # attempt, one per abandoned task, used or not: the k-th decision of a kind gets the
        # k-th draw of its stream
        assert len(logs["poison"]) == len(logs["priority"]) == fresh
        assert len(logs["clients"]) == extras.get("client_timeouts", 0)
        assert len(logs["attempt"]) == len(logs["service"]) > 0
    for stream in OWNERS:
        if owned(stream, path):
            continue
        x, y = logs_a[stream], logs_b[stream]
        n = min(len(x), len(y))
        assert x[:n] == y[:n], f"{path} {a_value!r} -> {b_value!r} reshuffled {stream}"


def poison_dead_letters(probability: float) -> set[str]:
    s = Scenario()
    s = replace(
        s,
        run=replace(s.run, duration=3600.0, seed=3),
        failures=replace(s.failures, probability=probability, poison_fraction=0.01),
        retry=replace(s.retry, max_attempts=1),
    )
    e = run(s)
    page = asyncio.run(e.dead_letters(DeadLetterQuery(limit=1_000_000)))
    assert page.total_matching == page.total == len(page.items)
    return {d.task.id for d in page.items if d.task.poison}


def test_failure_probability_leaves_the_poison_tasks_alone() -> None:
    """Raising failures.probability from 0 to 0.001 once turned 90 poison tasks into 93 others
    (1 in common): poison and attempt outcomes shared a stream, skipped at p = 0."""
    without, with_failures = poison_dead_letters(0.0), poison_dead_letters(0.001)
    assert len(without) > 20
    assert without == with_failures
