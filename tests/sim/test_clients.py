"""Callers that give up and retry (`[clients]`) in the simulator: the metastable retry storm
of resources/scenarios/retry-storm-clients.toml and its two cures, and the books with
abandoned, wasted and dropped work."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from queuelab.core.clients import BUDGET_TOKENS
from queuelab.core.engine import RunState
from queuelab.core.metrics import MetricsFrame
from queuelab.core.scenario import Scenario
from queuelab.core.validation import ParamChange
from queuelab.io.scenario_files import load_scenario
from queuelab.sim.engine import SimEngine

ROOT = Path(__file__).resolve().parents[2]
STORM = load_scenario(ROOT / "resources/scenarios/retry-storm-clients.toml")
TRIGGER_END = 180.0  # the timeline's 60 s with half the pool, from 120 s


def storm(**clients: object) -> tuple[SimEngine, list[MetricsFrame]]:
    """The shipped storm, cut to 3 minutes after its trigger, with `clients` knobs changed."""
    s = replace(STORM, run=replace(STORM.run, duration=TRIGGER_END + 180.0),
                clients=replace(STORM.clients, **clients))
    e = SimEngine(s)
    e.run()
    e.totals().check()
    return e, e.take_frames()


def drained_after(frames: list[MetricsFrame]) -> float | None:
    """Seconds from the trigger's end to the first frame with under 50 tasks waiting."""
    return next((f.t - TRIGGER_END for f in frames if f.t > TRIGGER_END and f.depth < 50), None)


def test_the_shipped_storm_is_the_designed_one() -> None:
    assert (STORM.arrivals.rate, STORM.pool.workers, STORM.service.mean) == (70.0, 10, 0.1)
    assert (STORM.clients.timeout, STORM.clients.retries) == (2.0, 3)
    assert not STORM.clients.drop_expired
    (entry,) = STORM.timeline
    assert (entry.at, entry.path, entry.value, entry.duration) == (120.0, "pool.workers", 5, 60.0)


def test_without_a_budget_the_overload_outlives_its_trigger() -> None:
    """Metastable: three minutes after the pool is whole again, the queue still grows, the
    callers offer about four times the fresh load and almost nothing is done in time."""
    e, frames = storm()
    assert drained_after(frames) is None
    late = [f for f in frames if f.t > TRIGGER_END + 120.0]
    assert min(f.depth for f in late) > 5_000
    assert late[-1].depth > late[0].depth  # still growing
    offered = sum(f.arrival_rate for f in late) / len(late)
    assert offered > 2.5 * STORM.arrivals.rate  # up to 4 sends of every fresh request
    assert sum(f.goodput for f in late) / len(late) < 5.0  # the workers serve expired work
    assert sum(f.throughput for f in late) / len(late) > 90.0  # … at full capacity
    x = e.summary().extras
    assert x["client_timeouts"] > 10_000 and x["wasted_work"] > 1_000.0


def test_without_client_retries_the_backlog_drains_in_about_40_s() -> None:
    """Before the trigger ends the backlog is about (70 - 50) x 60 = 1,200 (12 s of wait):
    it drains at 100 - 70 = 30/s, about 40 s."""
    _, frames = storm(retries=0)
    peak = max(frames, key=lambda f: f.depth)
    assert 900 < peak.depth < 1_500 and abs(peak.t - TRIGGER_END) <= 2.0
    drained = drained_after(frames)
    assert drained is not None and 25.0 < drained < 60.0
    assert frames[-1].client_retries == 0


def test_a_retry_budget_of_a_tenth_lets_the_backlog_drain() -> None:
    """Retries capped at a tenth of the fresh load: 77/s offered against 100/s of capacity,
    so the backlog drains, later than without retries."""
    e, frames = storm(retry_budget=0.1)
    drained = drained_after(frames)
    assert drained is not None and drained < 120.0
    assert drained > drained_after(storm(retries=0)[1])  # type: ignore[operator]
    x = e.summary().extras
    fresh = e.totals().created - x["client_retries"]
    assert 0 < x["client_retries"] <= 0.1 * fresh + BUDGET_TOKENS
    assert x["budget_denied"] > 0


def test_dropping_expired_work_puts_it_in_the_books_as_abandoned() -> None:
    e, frames = storm(drop_expired=True)
    t = e.totals()
    assert t.abandoned > 1_000 and t.balanced
    assert frames[-1].abandoned == t.abandoned
    assert e.summary().extras["wasted_work"] == 0.0  # nobody served a gone caller's task
    # workers no longer serve the dead: the overload ends
    assert drained_after(frames) is not None


def test_goodput_is_throughput_while_callers_wait_in_time() -> None:
    _, frames = storm()
    before = [f for f in frames if f.t < 120.0]
    assert all(f.goodput == f.throughput for f in before)
    assert all(f.goodput <= f.throughput for f in frames)


def test_callers_that_wait_forever_change_nothing() -> None:
    """No timeout: the same frames, byte for byte, whatever the other client knobs say."""
    s = replace(STORM, run=replace(STORM.run, duration=200.0))
    runs = []
    for clients in (replace(s.clients, timeout=0.0),
                    replace(s.clients, timeout=0.0, retries=0, drop_expired=True)):
        e = SimEngine(replace(s, clients=clients))
        e.run()
        runs.append(e.take_frames())
    assert runs[0] == runs[1]
    assert all(f.client_timeouts == f.abandoned == 0 for f in runs[0])


def test_the_clients_knobs_change_while_running() -> None:
    s = replace(STORM, run=replace(STORM.run, duration=400.0),
                clients=replace(STORM.clients, timeout=0.0))
    e = SimEngine(s)
    e.run_until(100.0)
    e.apply(ParamChange("clients.timeout", 2.0))
    e.apply(ParamChange("clients.retry_budget", 0.1))
    e.run()
    x = e.summary().extras
    assert x["client_timeouts"] > 0 and x["client_retries"] > 0
    assert [c.path for c in e.changes][:2] == ["clients.timeout", "clients.retry_budget"]
    e.totals().check()


def test_bad_clients_values_exit_2_naming_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[clients]\ntimeout = -1\nretries = 2.5\nretry_budget = 3\n")
    result = subprocess.run([sys.executable, "-m", "queuelab.cli", "scenario", "check",
                             str(bad)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert "clients.timeout: must be >= 0 (got -1)" in result.stderr
    assert "clients.retries: must be a whole number" in result.stderr
    assert "clients.retry_budget: must be <= 1 (got 3)" in result.stderr
    assert "Traceback" not in result.stderr
    scripted = tmp_path / "scripted.toml"  # a timeline's value is checked as the knob's
    scripted.write_text('[run]\nduration = 60\nwarmup = 0\n[[timeline]]\nat = 10\n'
                        'set = "clients.retry_budget"\nvalue = -0.5\n')
    result = subprocess.run([sys.executable, "-m", "queuelab.cli", "scenario", "check",
                             str(scripted)], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2, result.stderr
    assert ("timeline[0].value: clients.retry_budget: must be >= 0 (got -0.5)"
            in result.stderr), result.stderr


def test_a_scenario_without_clients_writes_none() -> None:
    assert Scenario().clients.timeout == 0.0


def test_step_says_when_a_caller_times_out_and_when_its_retry_arrives() -> None:
    s = replace(STORM, run=replace(STORM.run, duration=60.0), timeline=(),
                arrivals=replace(STORM.arrivals, rate=200.0))  # twice the capacity
    e = SimEngine(s)
    said: list[str] = []
    while len(said) < 200_000 and e.state is not RunState.FINISHED:
        said.append(e.next_event())
        e.step()
    timeouts = [line for line in said if "caller times out waiting" in line]
    retries = [line for line in said if "a caller's retry 1 arrives as task" in line]
    assert timeouts and retries
    assert not any("timeline" in line for line in said)
    e.totals().check()
