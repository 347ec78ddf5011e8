"""The simulator's dead-letter queue: compact records, pages built only for what is shown.

A long poison-pill run can park a hundred thousand tasks here. Each is kept as its task
list plus when it died, its error kind and message (as reported at that moment) and a
lower-case text to filter on, all made once when it arrives; the error kinds are counted
as they come and go. A page query is then a few list passes at C speed, and full
`DeadLetter` records (payload, history) are made only for the rows a pane shows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Outcome
from queuelab.sim.entities import (
    ATTEMPTS,
    CREATED,
    NUMBER,
    POISON,
    PRIORITY,
    SimTask,
    sim_task_id,
    to_task,
)

ErrorFor = Callable[[Outcome, bool], tuple[str, str]]

# a record: (task, dead_lettered_at, error_kind, error, haystack)
_Record = tuple[SimTask, float, str, str, str]

_ORDER: dict[str, Callable[[_Record], Any]] = {
    "dead_lettered_at": lambda r: r[1],
    "id": lambda r: r[0][NUMBER],
    "priority": lambda r: r[0][PRIORITY],
    "attempts": lambda r: r[0][ATTEMPTS],
    "error_kind": lambda r: r[2],
    "created_at": lambda r: r[0][CREATED],
}


class DeadLetterStore:
    """Dead tasks by id, in the order they died."""

    __slots__ = ("_items", "_kinds")

    def __init__(self) -> None:
        self._items: dict[str, _Record] = {}
        self._kinds: Counter[str] = Counter()

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def add(self, task: SimTask, at: float, kind: str, message: str) -> None:
        tid = sim_task_id(task)
        haystack = f"{tid} {kind} {message} n={task[NUMBER]} priority={task[PRIORITY]}".lower()
        self._items[tid] = (task, at, kind, message, haystack)
        self._kinds[kind] += 1

    def pop(self, task_id: str) -> SimTask | None:
        record = self._items.pop(task_id, None)
        if record is None:
            return None
        self._kinds[record[2]] -= 1
        if not self._kinds[record[2]]:
            del self._kinds[record[2]]
        return record[0]

    @staticmethod
    def _dead_letter(record: _Record, size: int, error_for: ErrorFor) -> DeadLetter:
        task, at, kind, message, _ = record
        errors = {o: error_for(o, task[POISON]) for o in (Outcome.FAILED, Outcome.TIMED_OUT)}
        return DeadLetter(to_task(task, size, errors), kind, message, at)

    def get(self, task_id: str, size: int, error_for: ErrorFor) -> DeadLetter | None:
        record = self._items.get(task_id)
        return None if record is None else self._dead_letter(record, size, error_for)

    def page(self, query: DeadLetterQuery, size: int, error_for: ErrorFor) -> DeadLetterPage:
        """Filter on id, error kind and text, task number and level; order; slice."""
        key = _ORDER.get(query.order_by)
        if key is None:
            raise ValueError(f"order_by: unknown column {query.order_by!r} "
                             f"(columns: {', '.join(_ORDER)})")
        records = list(self._items.values())
        if query.error_kind:
            kind = query.error_kind
            records = [r for r in records if r[2] == kind]
        if query.text:
            needle = query.text.lower()
            records = [r for r in records if needle in r[4]]
        if query.order_by != "dead_lettered_at":
            records.sort(key=key, reverse=query.descending)
        elif query.descending:
            records.reverse()
        window = records[query.offset: query.offset + query.limit]
        return DeadLetterPage(
            tuple(self._dead_letter(r, size, error_for) for r in window),
            total_matching=len(records),
            total=len(self._items),
            error_kinds=tuple(sorted(self._kinds)),
        )
