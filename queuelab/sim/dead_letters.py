"""The simulator's dead-letter queue: compact records, pages built only for what is shown.

A long poison-pill run can park a hundred thousand tasks here. Each is kept as its task
list plus its id, when it died, its error kind and message (as reported at that moment)
and those three in the lower case a search compares; the error kinds are counted as they
come and go. A page is the rule of
`core.dead_letter_query`, the same as every backend's, read off these records: the payload
a search looks in is the synthetic one the pane would show, made only while searching,
and full `DeadLetter` records (payload, history) are made only for the rows a pane shows.

Memory stays bounded for any run length: only the newest `core.limits.DEAD_LETTERS_KEPT`
records are held; older ones are forgotten as newer ones arrive, and counted (with their
error kinds), so the books still balance and the pane says how many it no longer holds.
A week of poison traffic would otherwise hold millions of them (about 800 bytes each).
"""

from __future__ import annotations

import math
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator

from queuelab.core.dead_letter_query import Reader, fold, select
from queuelab.core.limits import DEAD_LETTERS_KEPT
from queuelab.core.outcome import TERMINATED
from queuelab.core.payload import synthetic_payload_search
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

# a record: (task id, task, dead_lettered_at, error_kind, error, the three folded for search)
_Record = tuple[str, SimTask, float, str, str, tuple[str, str, str]]


def _id(r: _Record) -> str:
    return r[0]


def _kind(r: _Record) -> str:
    return r[3]


def _texts(r: _Record) -> tuple[str, ...]:
    return r[5]


def _reader(payload_size: int) -> Reader[_Record]:
    """The query rule's view of the records, payloads of `payload_size` bytes."""
    def payload(text: str) -> Callable[[_Record], bool]:
        found = synthetic_payload_search(payload_size, text)
        return lambda r: found(r[1][NUMBER], r[1][PRIORITY])

    return Reader(
        id=_id,
        kind=_kind,
        texts=_texts,
        payload=payload,
        columns={
            "dead_lettered_at": lambda r: r[2],
            "id": _id,
            "priority": lambda r: r[1][PRIORITY],
            "attempts": lambda r: r[1][ATTEMPTS],
            "error_kind": _kind,
            "created_at": lambda r: r[1][CREATED],
        },
    )


class DeadLetterStore:
    """Dead tasks by id, in the order they died: the newest `keep` of them, the rest counted."""

    __slots__ = ("_forgotten", "_in_order", "_items", "_keep", "_kinds", "_last")

    def __init__(self, keep: int = DEAD_LETTERS_KEPT) -> None:
        self._keep = max(1, keep)
        self._forgotten = 0
        # ordered by death; an OrderedDict forgets its oldest in O(1) (a dict's first key
        # is found past every slot deleted before it: quadratic over a long run)
        self._items: OrderedDict[str, _Record] = OrderedDict()
        self._kinds: Counter[str] = Counter()
        # whether the records are in the query's default order, (time, id): virtual time
        # only moves on, so only two tasks dying at one instant out of id order undo it
        self._in_order = True
        self._last = (-math.inf, "")

    def __len__(self) -> int:
        """Every dead letter, the forgotten ones included (the books count them all)."""
        return len(self._items) + self._forgotten

    @property
    def keep(self) -> int:
        """The most records held."""
        return self._keep

    @property
    def forgotten(self) -> int:
        """The oldest dead letters no longer held, only counted."""
        return self._forgotten

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def add(self, task: SimTask, at: float, kind: str, message: str) -> None:
        tid = sim_task_id(task)
        if self._in_order:
            key = (at, tid)
            self._in_order = key > self._last
            self._last = key
        items = self._items
        items[tid] = (tid, task, at, kind, message, (fold(tid), fold(kind), fold(message)))
        self._kinds[kind] += 1
        if len(items) > self._keep:  # forget the oldest: its kind stays counted
            items.popitem(last=False)
            self._forgotten += 1

    def pop(self, task_id: str) -> SimTask | None:
        record = self._items.pop(task_id, None)
        if record is None:
            return None
        kind = record[3]
        self._kinds[kind] -= 1
        if not self._kinds[kind]:
            del self._kinds[kind]
        return record[1]

    @staticmethod
    def _dead_letter(record: _Record, size: int, error_for: ErrorFor) -> DeadLetter:
        _, task, at, kind, message, _ = record
        errors = {o: error_for(o, task[POISON]) for o in (Outcome.FAILED, Outcome.TIMED_OUT)}
        errors[Outcome.ABANDONED] = (TERMINATED, "killed after its termination grace")
        return DeadLetter(to_task(task, size, errors), kind, message, at)

    def get(self, task_id: str, size: int, error_for: ErrorFor) -> DeadLetter | None:
        record = self._items.get(task_id)
        return None if record is None else self._dead_letter(record, size, error_for)

    def page(self, query: DeadLetterQuery, size: int, error_for: ErrorFor) -> DeadLetterPage:
        """One page by `core.dead_letter_query`'s rule; payloads of `size` bytes."""
        window, matching = select(self._items.values(), query, _reader(size),
                                  in_order=self._in_order)
        return DeadLetterPage(
            tuple(self._dead_letter(r, size, error_for) for r in window),
            total_matching=matching,
            total=len(self),
            error_kinds=tuple(sorted(self._kinds)),
            forgotten=self._forgotten,
        )
