"""The simulator's dead-letter store keeps memory bounded (sim.dead_letters): only the
newest `keep` records are held, the older ones counted, so the books balance and a page
says how many it no longer holds - for any run length."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.limits import DEAD_LETTERS_KEPT
from queuelab.core.scenario import (
    ArrivalsConfig,
    FailuresConfig,
    RetryConfig,
    RunConfig,
    Scenario,
    ServiceConfig,
)
from queuelab.core.task import DeadLetterQuery, Outcome
from queuelab.sim.dead_letters import DeadLetterStore
from queuelab.sim.engine import SimEngine
from queuelab.sim.entities import new_task, sim_task_id

KEEP = 2_000


def _errors(outcome: Outcome, poison: bool) -> tuple[str, str]:
    return ("PoisonPill", "poison") if poison else ("Failure", "failed")


def test_a_long_poison_run_holds_only_the_newest_dead_letters() -> None:
    s = replace(Scenario(), run=RunConfig(duration=600.0, warmup=0.0, sample_interval=10.0),
                arrivals=ArrivalsConfig(process="constant", rate=40.0),
                service=ServiceConfig(distribution="constant", mean=0.01),
                failures=FailuresConfig(poison_fraction=1.0), retry=RetryConfig(max_attempts=1))
    engine = SimEngine(s)
    assert engine.dead.keep == DEAD_LETTERS_KEPT
    engine.dead = DeadLetterStore(KEEP)  # the same store, a smaller bound: a shorter test
    engine.run()
    totals = engine.totals()
    assert totals.balanced and totals.dead_lettered > KEEP + 10_000
    page = asyncio.run(engine.dead_letters(DeadLetterQuery(limit=50, descending=True)))
    assert page.total == totals.dead_lettered
    assert page.forgotten == totals.dead_lettered - KEEP
    assert page.total_matching == KEEP
    assert page.error_kinds == ("PoisonPill",)
    newest = max(d.dead_lettered_at for d in page.items)
    assert newest > 599.0  # the newest are the ones kept


@settings(max_examples=60, deadline=None)
@given(keep=st.integers(1, 20), ops=st.lists(st.tuples(st.booleans(), st.integers(0, 60)),
                                              max_size=120))
def test_the_store_never_holds_more_than_keep_and_counts_every_one(
        keep: int, ops: list[tuple[bool, int]]) -> None:
    made = [new_task(n, 0, float(n), n % 2 == 0) for n in range(61)]
    store = DeadLetterStore(keep)
    alive = 0
    ids: set[str] = set()
    for at, (add, n) in enumerate(ops):
        if add and n < len(made) and sim_task_id(made[n]) not in ids:
            store.add(made[n], float(at), "Failure", "failed")
            ids.add(sim_task_id(made[n]))
            alive += 1
        elif not add and n < len(made) and store.pop(sim_task_id(made[n])) is not None:
            alive -= 1
        assert len(store) == alive
        assert len(list(store)) <= keep
        page = store.page(DeadLetterQuery(limit=100), 16, _errors)
        assert page.total == alive and page.forgotten == store.forgotten
        assert len(page.items) == page.total_matching == alive - store.forgotten
