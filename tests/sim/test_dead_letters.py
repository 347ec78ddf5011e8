"""The simulator's dead letters answer the one query rule, as every backend does.

The store is held to `core.dead_letter_query.page_of` over the shared cases that every
backend's contract test parks too (tests/dead_letter_cases.py); a real run's dead letters
are held to it through the engine, with the searches that used to disagree: "queuelab"
(the payload's padding: every dead letter) and "n=1" (no payload contains it as text).
"""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from queuelab.core.dead_letter_query import page_of
from queuelab.core.scenario import Scenario
from queuelab.core.task import DeadLetterQuery, Outcome
from queuelab.sim.dead_letters import DeadLetterStore
from queuelab.sim.engine import SimEngine
from queuelab.sim.entities import ATTEMPTS, new_task

from .. import dead_letter_cases as cases


def _no_history_errors(outcome: Outcome, poison: bool) -> tuple[str, str]:
    return ("", "")


@pytest.mark.parametrize("arrival", ["in time order", "ties out of id order"])
def test_the_store_answers_the_shared_cases_as_the_rule_does(arrival: str) -> None:
    store = DeadLetterStore()
    numbers = list(range(1, cases.N + 1))
    if arrival != "in time order":  # same times, each tie group in reverse id order
        numbers.sort(key=lambda n: (cases.at(n), -n))
    for n in numbers:
        t = cases.task(n)
        sim = new_task(n, t.priority, t.created_at, False)
        sim[ATTEMPTS] = 1
        store.add(sim, cases.at(n), cases.kind(n), cases.message(n))
    reference = cases.expected()
    for query in cases.QUERIES:
        got = store.page(query, cases.PAYLOAD_SIZE, _no_history_errors)
        assert cases.summary(got) == cases.summary(page_of(reference, query)), query


def test_a_runs_dead_letters_answer_searches_as_the_rule_does() -> None:
    s = Scenario()
    s = replace(s, run=replace(s.run, duration=1200.0, warmup=0.0),
                failures=replace(s.failures, poison_fraction=0.05))
    engine = SimEngine(s)
    engine.run()

    async def check() -> None:
        ids = list(engine.dead)
        assert len(ids) > 20
        every = [await engine.get_dead_letter(i) for i in ids]
        reference = [d for d in every if d is not None]
        for text in ("queuelab", "n=1", '"n": 1', "poison", "t0000"):
            for order in ("dead_lettered_at", "id", "priority", "created_at"):
                query = DeadLetterQuery(text=text, order_by=order, limit=len(ids))
                got = await engine.dead_letters(query)
                want = page_of(reference, query)
                assert cases.summary(got) == cases.summary(want), query
        everything = await engine.dead_letters(DeadLetterQuery(text="queuelab"))
        assert everything.total_matching == len(ids)  # the padding is in every payload
        none = await engine.dead_letters(DeadLetterQuery(text="n=1"))
        assert none.total_matching == 0  # JSON writes "n": 1

    asyncio.run(check())
