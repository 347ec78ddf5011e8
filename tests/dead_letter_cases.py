"""One set of dead letters and one set of queries, for every store that answers them.

The simulator's store (tests/sim/test_dead_letters.py) and every backend
(tests/backends/contract.py) park these same dead letters and must answer each query
exactly as `core.dead_letter_query.page_of` does over them: same rows in the same order,
same counts, same error kinds. The letters have ties in every order column (so the id
tie-break shows), non-ASCII text, and the synthetic payload both engines make.
"""

from __future__ import annotations

from queuelab.core.dead_letter_query import ORDER_COLUMNS
from queuelab.core.payload import synthetic_payload, task_id
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

N = 40
PAYLOAD_SIZE = 16  # "queuelab-queuela": the pad both engines write


def priority(n: int) -> int:
    return n % 3


def kind(n: int) -> str:
    return "TimeoutError" if n % 4 == 0 else "PoisonPill" if n % 5 == 0 else "HandlerError"


def message(n: int) -> str:
    return f"Boom: Été n°{n}" if n % 2 else f"timed out after {n} s"


def at(n: int) -> float:
    return float(n // 3)  # three at a time: ties


def task(n: int) -> Task:
    """The task as enqueued (a claim then counts one more attempt)."""
    return Task(id=task_id(n), payload=synthetic_payload(n, priority(n), PAYLOAD_SIZE),
                priority=priority(n), created_at=float(n % 7))


def expected() -> list[DeadLetter]:
    """The dead letters as every store must report them: claimed once, then dead-lettered."""
    out = []
    for n in range(1, N + 1):
        t = task(n)
        t.attempts = 1
        out.append(DeadLetter(t, kind(n), message(n), at(n)))
    return out


TEXTS = ("", "queuelab", "n=1", '"n": 1', "T0000001", "été", "BOOM", "timeout", "pad", "zzz")
QUERIES: tuple[DeadLetterQuery, ...] = (
    *(DeadLetterQuery(text=t) for t in TEXTS),
    *(DeadLetterQuery(text=t, error_kind="TimeoutError") for t in ("", "timed", "boom")),
    DeadLetterQuery(error_kind="NoSuchKind"),
    *(DeadLetterQuery(order_by=c, descending=d) for c in ORDER_COLUMNS for d in (False, True)),
    *(DeadLetterQuery(text="t", order_by=c, descending=True, offset=3, limit=9)
      for c in ORDER_COLUMNS),
    DeadLetterQuery(offset=35, limit=10),
    DeadLetterQuery(offset=-3, limit=4),
    DeadLetterQuery(limit=0),
)


def summary(page: DeadLetterPage) -> tuple[object, ...]:
    """What a page says, in comparable form: rows (id, kind, error, time) and the counts."""
    rows = tuple((d.task.id, d.error_kind, d.error, d.dead_lettered_at, d.task.priority,
                  d.task.attempts, d.task.created_at, d.task.payload) for d in page.items)
    return rows, page.total_matching, page.total, page.error_kinds
