"""The simulator's dead-letter queue: compact records, pages built only for what is shown.

A long poison-pill run can park a hundred thousand tasks here; each is kept as its
`SimTask` plus when and how it died, and full `DeadLetter` records (payload, history,
error text) are made only for the page a pane asks for.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Outcome
from queuelab.sim.entities import SimTask

ErrorFor = Callable[[Outcome, bool], tuple[str, str]]


class DeadLetterStore:
    """Dead tasks by id, in the order they died."""

    __slots__ = ("_items",)

    def __init__(self) -> None:
        self._items: dict[str, tuple[SimTask, float, Outcome]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def add(self, task: SimTask, at: float, outcome: Outcome) -> None:
        self._items[task.id] = (task, at, outcome)

    def pop(self, task_id: str) -> SimTask | None:
        item = self._items.pop(task_id, None)
        return None if item is None else item[0]

    def _record(self, item: tuple[SimTask, float, Outcome], size: int,
                error_for: ErrorFor) -> DeadLetter:
        task, at, outcome = item
        kind, message = error_for(outcome, task.poison)
        history_errors = {o: error_for(o, task.poison) for o in (Outcome.FAILED,
                                                                  Outcome.TIMED_OUT)}
        return DeadLetter(task.to_task(size, history_errors), kind, message, at)

    def get(self, task_id: str, size: int, error_for: ErrorFor) -> DeadLetter | None:
        item = self._items.get(task_id)
        return None if item is None else self._record(item, size, error_for)

    def page(self, query: DeadLetterQuery, size: int, error_for: ErrorFor) -> DeadLetterPage:
        """Filter on id, error kind, error text, task number and level; order; slice."""
        items = list(self._items.values())
        kinds = {error_for(outcome, task.poison)[0] for task, _, outcome in items}
        needle = query.text.lower()
        if needle or query.error_kind:
            kept = []
            for item in items:
                task, _, outcome = item
                kind, message = error_for(outcome, task.poison)
                if query.error_kind and kind != query.error_kind:
                    continue
                if needle and needle not in (
                    f"{task.id} {kind} {message} n={task.number} priority={task.priority}"
                ).lower():
                    continue
                kept.append(item)
            items = kept
        key = _ORDER.get(query.order_by)
        if key is None:
            raise ValueError(f"order_by: unknown column {query.order_by!r} "
                             f"(columns: {', '.join(_ORDER)})")
        if query.order_by != "dead_lettered_at":
            items.sort(key=lambda it: key(it, error_for), reverse=query.descending)
        elif query.descending:
            items.reverse()
        window = items[query.offset: query.offset + query.limit]
        return DeadLetterPage(
            tuple(self._record(it, size, error_for) for it in window),
            total_matching=len(items),
            total=len(self._items),
            error_kinds=tuple(sorted(kinds)),
        )


_ORDER: dict[str, Callable[[tuple[SimTask, float, Outcome], ErrorFor], object]] = {
    "dead_lettered_at": lambda it, _: it[1],
    "id": lambda it, _: it[0].number,
    "priority": lambda it, _: it[0].priority,
    "attempts": lambda it, _: it[0].attempts,
    "error_kind": lambda it, ef: ef(it[2], it[0].poison)[0],
    "created_at": lambda it, _: it[0].created,
}
