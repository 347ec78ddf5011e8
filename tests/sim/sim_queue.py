"""The simulator's queue and dead-letter store behind the TaskQueue calls of the contract.

`tests/sim/test_queue_contract.py` runs the backend contract's ordering, reprocess, discard
and dead-letter query tests against this, so the simulator's own queue code answers them:
tasks join the engine's queue the way an arrival does when no worker is idle (`_place`),
claims take them the way a worker does (`_next_task`, then one more attempt), peeks put them
back the way a worker that cannot start does (`_unpop`), and dead letters go through the
engine's store and its public `reprocess`, `discard` and `dead_letters`. Nothing here
decides an order or a count: the engine does.

The simulator names a task by its number (`t00000001`); other ids of the contract ("a",
"t1") are given numbers in the order they arrive and translated back on the way out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import replace

from queuelab.backends.base import Delivery, LeaseLost, QueueCounts
from queuelab.core.payload import task_id
from queuelab.core.scenario import Scenario
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task
from queuelab.sim.engine import SimEngine
from queuelab.sim.entities import ATTEMPTS, SimTask, new_task, to_task

from .. import dead_letter_cases as cases

LEVELS = 6  # the contract uses priorities 0..5
_FIRST_PAGE = DeadLetterQuery()


class SimQueue:
    """One not-started `SimEngine` (no workers: every task waits), driven task by task."""

    def __init__(self, discipline: str) -> None:
        s = Scenario()
        s = replace(s, queue=replace(s.queue, discipline=discipline),
                    priorities=replace(s.priorities, weights=(1.0,) * LEVELS),
                    payload=replace(s.payload, size=cases.PAYLOAD_SIZE))
        self.engine = SimEngine(s)
        self._numbers: dict[str, int] = {}
        self._names: dict[str, str] = {}  # the engine's id -> the caller's
        self._leased: dict[int, SimTask] = {}

    # --- ids ----------------------------------------------------------------------
    def _number(self, tid: str) -> int:
        n = self._numbers.get(tid)
        if n is None:
            native = tid[1:].isdigit() and task_id(int(tid[1:])) == tid
            n = int(tid[1:]) if native else 10_000_000 + len(self._numbers)
            self._numbers[tid] = n
            self._names[task_id(n)] = tid
        return n

    def _sim_ids(self, ids: Sequence[str]) -> list[str]:
        return [task_id(self._numbers[t]) for t in ids if t in self._numbers]

    def _theirs(self, t: Task) -> Task:
        return replace(t, id=self._names.get(t.id, t.id))

    def _their_dead(self, d: DeadLetter) -> DeadLetter:
        return replace(d, task=self._theirs(d.task))

    # --- producing and consuming ---------------------------------------------------
    async def enqueue(self, task: Task, delay: float = 0.0) -> None:
        assert delay == 0.0, "the simulator's queue has no delayed enqueue"
        sim = new_task(self._number(task.id), task.priority, task.created_at, task.poison)
        sim[ATTEMPTS] = task.attempts
        self.engine._place(sim, self.engine.now)

    async def enqueue_many(self, tasks: Iterable[Task]) -> None:
        for t in tasks:
            await self.enqueue(t)

    def _task(self, sim: SimTask) -> Task:
        return self._theirs(to_task(sim, cases.PAYLOAD_SIZE, {}))

    async def claim(self, lease: float, *, max_tasks: int = 1,
                    timeout: float | None = 0.0) -> list[Delivery]:
        out = []
        while len(out) < max_tasks and (sim := self.engine._next_task()) is not None:
            sim[ATTEMPTS] += 1
            self._leased[id(sim)] = sim
            out.append(Delivery(self._task(sim), sim, math.inf))
        return out

    async def peek(self, n: int = 1) -> list[Task]:
        taken = []
        while len(taken) < n and (sim := self.engine._next_task()) is not None:
            taken.append(sim)
        for sim in reversed(taken):
            self.engine._unpop(sim)
        return [self._task(sim) for sim in taken]

    async def ack(self, delivery: Delivery) -> None:
        if self._leased.pop(id(delivery.receipt), None) is None:
            raise LeaseLost("not held")

    async def ack_many(self, deliveries: Sequence[Delivery]) -> None:
        for d in deliveries:
            await self.ack(d)

    async def dead_letter(self, delivery: Delivery, error_kind: str, error: str,
                          at: float) -> None:
        sim = self._leased.pop(id(delivery.receipt))
        self.engine.dead.add(sim, at, error_kind, error)

    # --- looking and dead letters ---------------------------------------------------
    async def counts(self) -> QueueCounts:
        return QueueCounts(self.engine._waiting, 0, len(self._leased), len(self.engine.dead))

    async def size(self) -> int:
        return self.engine._waiting

    async def dead_letters(self, query: DeadLetterQuery = _FIRST_PAGE) -> DeadLetterPage:
        page = await self.engine.dead_letters(query)
        return replace(page, items=tuple(self._their_dead(d) for d in page.items))

    async def get_dead_letter(self, tid: str) -> DeadLetter | None:
        if tid not in self._numbers:
            return None
        d = await self.engine.get_dead_letter(task_id(self._numbers[tid]))
        return None if d is None else self._their_dead(d)

    async def reprocess(self, task_ids: Sequence[str], *, reset_attempts: bool = False) -> int:
        return await self.engine.reprocess(self._sim_ids(task_ids),
                                           reset_attempts=reset_attempts)

    async def discard(self, task_ids: Sequence[str]) -> int:
        return await self.engine.discard(self._sim_ids(task_ids))
