"""The backend contract's ordering, reprocess, discard and dead-letter query rules, kept by the
simulator's queue and dead-letter store (driven through `tests/sim/sim_queue.py`).

The very test methods of `tests/backends/contract.py` run here; the rest of the contract
(leases, delays, waiting claimers, connections) is about storage the simulator does not
have. `test_dead_letter_pages` is left out only for its payload search ("alice"): the
simulator's payloads are synthetic; the shared dead-letter cases cover its searches.
"""

from __future__ import annotations

import asyncio
import inspect

import pytest

from ..backends.contract import BackendSpec, QueueContract
from .sim_queue import SimQueue

SUBSET = (
    "test_fifo_within_a_priority_level",
    "test_discipline_order",
    "test_enqueue_many",
    "test_claim_max_tasks",
    "test_peek_does_not_claim",
    "test_reprocess",
    "test_discard",
    "test_dead_letter_query_is_the_core_rule",
)


@pytest.mark.parametrize("discipline", ["fifo", "priority"])
@pytest.mark.parametrize("name", SUBSET)
def test_the_simulators_queue_keeps_the_contract(name: str, discipline: str) -> None:
    spec = BackendSpec("sim", "sim://", id=f"sim-{discipline}", discipline=discipline)
    method = getattr(QueueContract, name)
    queue = SimQueue(discipline)
    args = {"spec": spec, "queue": queue}
    wanted = [p for p in inspect.signature(method).parameters if p != "self"]
    asyncio.run(method(QueueContract(), **{p: args[p] for p in wanted}))
