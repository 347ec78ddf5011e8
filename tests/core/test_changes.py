"""The knob-change routes both engines act on, and the change log the plots mark."""

from __future__ import annotations

import math

from queuelab.core.changes import POOL_ROUTES, ROUTES, ChangeLog, Route, route
from queuelab.core.scenario import KNOBS, SECTIONS

STRATEGIES = ("single", "fixed", "dynamic", "semaphore")


def test_every_live_knob_reaches_something() -> None:
    """A knob that may change while running and routes nowhere would be recorded on the plots
    and change nothing: a new knob must be given its route."""
    for path, info in KNOBS.items():
        if info.knob.live:
            assert any(route(path, s) is not None for s in STRATEGIES), path


def test_the_table_names_only_knobs_and_sections() -> None:
    for key in ROUTES:
        assert key in KNOBS or key in SECTIONS, key
    assert set(Route) == {target for target, _ in ROUTES.values()}


def test_pool_knobs_reach_only_the_pools_they_mean_something_to() -> None:
    assert [route("pool.workers", s) for s in STRATEGIES] == [
        None, Route.WORKERS, Route.WORKERS, None]
    assert route("pool.concurrency", "semaphore") is Route.CONCURRENCY
    assert route("pool.prefetch", "fixed") is None
    assert route("pool.scale_up_threshold", "dynamic") is Route.AUTOSCALER_KNOBS
    assert route("pool.scale_up_threshold", "fixed") is None
    assert route("pool.min_workers", "dynamic") is Route.POOL_BOUNDS
    assert [route("pool.termination_grace", s) for s in STRATEGIES] == [
        None, Route.TERMINATION_GRACE, Route.TERMINATION_GRACE, None]
    pool_routes = {Route.WORKERS, Route.CONCURRENCY, Route.PREFETCH, Route.STARTUP_DELAY,
                   Route.TERMINATION_GRACE}
    assert pool_routes == POOL_ROUTES


def test_sections_and_paths() -> None:
    assert route("timeouts.task", "fixed") is Route.RETRY
    assert route("priorities.weights", "fixed") is Route.FAILURES
    assert route("run.duration", "single") is Route.DURATION
    assert route("run.seed", "fixed") is None  # refused while running anyway


def test_dead_letter_slices_within_an_interval_make_one_marker() -> None:
    log = ChangeLog()
    log.knob(1.0, "arrivals.rate", 2.0, 4.0)
    log.dead_letter_action(10.0, "dead_letters.reprocess", 40, 60, 1.0)
    log.dead_letter_action(10.5, "dead_letters.reprocess", 60, 0, 1.0)
    log.dead_letter_action(12.0, "dead_letters.reprocess", 5, 0, 1.0)
    assert [(c.t, c.path, c.old, c.new) for c in log.entries] == [
        (1.0, "arrivals.rate", 2.0, 4.0),
        (10.0, "dead_letters.reprocess", 100, 0),
        (12.0, "dead_letters.reprocess", 5, 0),
    ]
    assert log.entries[1].label() == "reprocessed 100 dead letters"


def test_a_knob_in_force_over_a_run_from_its_change_log() -> None:
    from queuelab.core.changes import ChangeLog, in_force, value_at

    log = ChangeLog()
    log.knob(100.0, "pool.scale_up_threshold", 40.0, 60.0)
    log.knob(150.0, "pool.workers", 2, 3)
    log.knob(200.0, "pool.scale_up_threshold", 60.0, 20.0)
    steps = in_force("pool.scale_up_threshold", 20.0, log.entries)
    assert [value_at(steps, t) for t in (0.0, 99.9, 100.0, 199.0, 200.0, 1e9)] == [
        40.0, 40.0, 60.0, 60.0, 20.0, 20.0]
    assert in_force("pool.max_workers", 8, log.entries) == [(-math.inf, 8)]
