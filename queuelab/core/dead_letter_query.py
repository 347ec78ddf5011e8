"""The one dead-letter query: which dead letters a search finds, in what order, which page.

The dead-letter pane sends the same `DeadLetterQuery` to the simulator's store and to every
backend, and must get the same answer from each over the same dead letters; the rule is
therefore written here once:

* filter: an `error_kind`, when given, equals the dead letter's; a `text`, when given,
  occurs in one of the `SEARCHED` fields - the task id, the error kind, the error message,
  or the payload as JSON text (`payload_text`, what the pane shows) - both sides lower case
  (`fold`: Python's `str.lower`, which SQL's `lower` follows for all but a few letters);
* order: by one of `ORDER_COLUMNS`, then by task id, both ascending or both descending, so
  the order is total and needs no arrival sequence (a Redis sorted set breaks score ties by
  member the same way);
* page: `limit` rows from `offset` of the matching ones (negative bounds count as 0), with
  how many match, how many there are, and every error kind present.

Stores that hold dead letters in Python call `select` (compact records, with a `Reader`) or
`page_of` (`DeadLetter`s); the SQL backend says the same in SQL, built from `SEARCHED` and
`ORDER_COLUMNS` (`backends/sql/ops.py`). `tests/test_dead_letter_query.py` holds the
simulator and every backend to `page_of` over the same dead letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import repeat
from operator import contains
from typing import Any, Generic, TypeVar

from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery

R = TypeVar("R")

ORDER_COLUMNS = ("dead_lettered_at", "id", "priority", "attempts", "error_kind", "created_at")
"""What a page may be ordered by (the pane's sortable columns)."""

SEARCHED = ("id", "error_kind", "error", "payload")
"""The fields a text search looks in, each on its own (a match never spans two)."""


def payload_text(payload: Any) -> str:
    """A payload as the search reads it and the pane shows it: JSON, non-ASCII kept."""
    return json.dumps(payload, ensure_ascii=False)


def check(query: DeadLetterQuery) -> None:
    """Refuse a query no store can answer (an unknown column), in the same words everywhere."""
    if query.order_by not in ORDER_COLUMNS:
        raise ValueError(f"order_by: unknown column {query.order_by!r} "
                         f"(columns: {', '.join(ORDER_COLUMNS)})")


def fold(text: str) -> str:
    """Text as a search compares it: lower case."""
    return text.lower()


def needle(query: DeadLetterQuery) -> str:
    """The text searched for, as compared ('' matches everything)."""
    return fold(query.text)


def window(query: DeadLetterQuery) -> tuple[int, int]:
    """(offset, limit) of the page, negative values read as 0."""
    return max(query.offset, 0), max(query.limit, 0)


@dataclass(frozen=True, slots=True)
class Reader(Generic[R]):
    """How to read a store's own dead-letter records: the id, the kind, the value of each
    order column, and the searched fields - `texts`: id, error kind and error, `fold`ed;
    `payload`: given the needle, a test of whether a record's folded payload text holds it
    (asked last, because it costs most)."""

    id: Callable[[R], str]
    kind: Callable[[R], str]
    texts: Callable[[R], tuple[str, ...]]
    payload: Callable[[str], Callable[[R], bool]]
    columns: Mapping[str, Callable[[R], Any]]


def select(records: Iterable[R], query: DeadLetterQuery, reader: Reader[R], *,
           in_order: bool = False) -> tuple[list[R], int]:
    """The page of `records` the query asks for, and how many records match it.

    `in_order`: the records come in (dead_lettered_at, id) order already (a store that
    appends as time goes on), so the default order needs no sort.
    """
    check(query)
    rows = list(records)
    if query.error_kind:
        kind, kind_of = query.error_kind, reader.kind
        rows = [r for r in rows if kind_of(r) == kind]
    if query.text:
        text, texts = needle(query), reader.texts
        in_payload = reader.payload(text)
        rows = [r for r in rows if any(map(contains, texts(r), repeat(text))) or in_payload(r)]
    if in_order and query.order_by == "dead_lettered_at":
        if query.descending:
            rows.reverse()
    else:  # by (column, id), both one way: two stable sorts on plain keys, id first
        rows.sort(key=reader.id, reverse=query.descending)
        if query.order_by != "id":
            rows.sort(key=reader.columns[query.order_by], reverse=query.descending)
    offset, limit = window(query)
    return rows[offset : offset + limit], len(rows)


def _task_id(d: DeadLetter) -> str:
    return d.task.id


def _kind(d: DeadLetter) -> str:
    return d.error_kind


def _texts(d: DeadLetter) -> tuple[str, ...]:
    return fold(d.task.id), fold(d.error_kind), fold(d.error)


def _payload(text: str) -> Callable[[DeadLetter], bool]:
    return lambda d: text in fold(payload_text(d.task.payload))


DEAD_LETTERS: Reader[DeadLetter] = Reader(
    id=_task_id,
    kind=_kind,
    texts=_texts,
    payload=_payload,
    columns={
        "dead_lettered_at": lambda d: d.dead_lettered_at,
        "id": _task_id,
        "priority": lambda d: d.task.priority,
        "attempts": lambda d: d.task.attempts,
        "error_kind": _kind,
        "created_at": lambda d: d.task.created_at,
    },
)
"""The reader of `DeadLetter` records (the memory, Redis and RabbitMQ backends' kind)."""


def page_of(dead: Iterable[DeadLetter], query: DeadLetterQuery) -> DeadLetterPage:
    """A page of dead letters held in memory."""
    every = list(dead)
    rows, matching = select(every, query, DEAD_LETTERS)
    kinds = tuple(sorted({d.error_kind for d in every}))
    return DeadLetterPage(tuple(rows), matching, len(every), kinds)
