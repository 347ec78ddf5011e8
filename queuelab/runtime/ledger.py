"""Where every task a live run created is, from the engine's own bookkeeping.

Each transition moves exactly one task from one place to another (waiting -> in flight ->
done, dead, retrying or back to waiting …), so `totals()` balances whenever the bookkeeping
is right, and a forgotten or doubled transition shows up as an unbalanced total. The
backend keeps its own count of the same tasks; `audit` compares the two, which is what
catches a task the backend lost or handed out twice.

Counts change only between awaits (one event loop), and a task is counted as created just
before its enqueue is awaited: a worker can never claim a task the ledger has not seen.

The books change when a backend call returns; the backend's own counts change somewhere
inside the call. So while calls are in progress the two may differ by what those calls can
move, and the audit allows exactly that much (`InFlightCalls`): with no call in progress
(the memory backend's calls never suspend once they act) the comparison is exact, and a
difference beyond what the calls in progress explain - a task lost, leased twice, or whose
lease ran out under its worker - is always reported.
"""

from __future__ import annotations

from heapq import heappop, heappush

from queuelab.backends.base import QueueCounts
from queuelab.core.engine import Totals


class Ledger:
    """Counts of tasks by place; retry due times in scenario seconds."""

    __slots__ = (
        "_due",
        "_heap",
        "abandoned",
        "acks_lost",
        "carried",
        "created",
        "dead",
        "discarded",
        "done",
        "dropped",
        "handed_back",
        "in_flight",
        "inline",
        "rejected",
        "reprocessed",
        "waiting",
    )

    def __init__(self) -> None:
        self.created = 0
        self.carried = 0  # found in the queue when the run began, and kept (carried over)
        self.waiting = 0
        self.in_flight = 0  # claimed and held: running, prefetched, being acked
        self.inline = 0  # held by a worker sleeping through an inline backoff
        self.done = 0
        self.dead = 0
        self.discarded = 0
        self.rejected = 0  # arrivals turned away by a full queue (`[queue] max_length`)
        self.dropped = 0  # tasks whose caller gave up, dropped unserved (the books' abandoned)
        self.abandoned = 0  # attempts whose lease was lost (the backend took the task back)
        self.acks_lost = 0  # … of which successes whose ack found the lease void: redelivered
        self.handed_back = 0  # tasks given back unfinished at a stop or a worker's removal
        self.reprocessed = 0
        self._due: dict[str, float] = {}  # requeued retries: task id -> scenario due time
        self._heap: list[tuple[float, str]] = []

    @property
    def retrying(self) -> int:
        return len(self._due) + self.inline

    # -- transitions ---------------------------------------------------------------------------

    def carry_over(self, waiting: int, dead: int, leased: int = 0) -> None:
        """Tasks and dead letters the queue held before the run, kept: in the books now.

        Found tasks waiting out a retry delay are counted as waiting: their due times are
        the backend's, and a claim cannot tell them from ready ones. Found leased tasks are
        another process's: they have no place here, only in a shared queue's books.
        """
        self.carried += waiting + dead + leased
        self.waiting += waiting
        self.dead += dead

    def enqueued(self, n: int) -> None:
        self.created += n
        self.waiting += n

    def rejected_n(self, n: int) -> None:
        """`n` arrivals created and turned away at once: in the books, never in the queue."""
        self.created += n
        self.rejected += n

    def claimed(self, task_id: str) -> None:
        """Claimed from the queue: a due retry the backend released, or a waiting task."""
        if self._due.pop(task_id, None) is None:
            self.waiting -= 1
        self.in_flight += 1

    def acked(self) -> None:
        self.in_flight -= 1
        self.done += 1

    def dropped_one(self) -> None:
        """Claimed, then acked unserved: its caller had gone (`[clients] drop_expired`)."""
        self.in_flight -= 1
        self.dropped += 1

    def dead_lettered(self) -> None:
        self.in_flight -= 1
        self.dead += 1

    def requeued(self, task_id: str, due: float, now: float) -> None:
        """Nacked with a backoff until scenario time `due` (waiting at once if already due)."""
        self.in_flight -= 1
        if due > now:
            self._due[task_id] = due
            heappush(self._heap, (due, task_id))
        else:
            self.waiting += 1

    def returned(self, *, handed_back: bool = False, lost: bool = False) -> None:
        """Back in the queue unfinished: handed back (stop, removal, breaker) or lease lost."""
        self.in_flight -= 1
        self.waiting += 1
        if handed_back:
            self.handed_back += 1
        if lost:
            self.abandoned += 1

    def lost(self) -> None:
        """An ack, nack or dead-letter found its lease void: the backend already took it back."""
        self.returned(lost=True)

    def ack_lost(self) -> None:
        """A success whose ack found its lease void: not done; the task is redelivered."""
        self.acks_lost += 1
        self.returned(lost=True)

    def inline_began(self) -> None:
        self.in_flight -= 1
        self.inline += 1

    def inline_ended(self) -> None:
        self.inline -= 1
        self.in_flight += 1

    def reprocessed_n(self, n: int) -> None:
        self.dead -= n
        self.waiting += n
        self.reprocessed += n

    def discarded_n(self, n: int) -> None:
        self.dead -= n
        self.discarded += n

    def tick(self, now: float) -> None:
        """Retries whose backoff has ended are waiting again."""
        heap, due = self._heap, self._due
        while heap and heap[0][0] <= now:
            at, task_id = heappop(heap)
            if due.get(task_id) == at:
                del due[task_id]
                self.waiting += 1

    # -- reading -------------------------------------------------------------------------------

    def totals(self, now: float) -> Totals:
        self.tick(now)
        return Totals(
            created=self.created,
            waiting=self.waiting,
            in_flight=self.in_flight,
            retrying=self.retrying,
            done=self.done,
            dead_lettered=self.dead,
            discarded=self.discarded,
            carried_over=self.carried,
            rejected=self.rejected,
            abandoned=self.dropped,
        )

    def shared_totals(self, counts: QueueCounts) -> Totals:
        """The books of a queue other processes work too: every place is the backend's count,
        `done` this run's own acks, and what the others took is the balance (net of what
        they added) - this run cannot know where another process put a task."""
        return Totals(
            created=self.created,
            waiting=counts.ready,
            in_flight=counts.leased,
            retrying=counts.delayed,
            done=self.done,
            dead_lettered=counts.dead,
            discarded=self.discarded,
            carried_over=self.carried,
            by_others=(self.created + self.carried - counts.total - self.done - self.discarded
                       - self.rejected - self.dropped),
            shared=True,
            rejected=self.rejected,
            abandoned=self.dropped,
        )

    def unexplained(self, counts: QueueCounts, slack: tuple[int, int, int] = (0, 0, 0)) -> int:
        """Tasks the backend holds beyond (> 0) or short of (< 0) what the books hold, past
        what the calls in progress may add or remove: no call of this run moves a task in or
        out unseen, so such a difference is another process's doing (0 when there is none)."""
        held = self.waiting + len(self._due) + self.in_flight + self.inline + self.dead
        diff = counts.total - held
        allowed = sum(slack)
        return 0 if abs(diff) <= allowed else diff

    def foreign_leases(self, counts: QueueCounts, slack: tuple[int, int, int] = (0, 0, 0)
                       ) -> int:
        """Leases the backend holds beyond this run's own and the calls in progress: tasks
        another process is working on (0 when there is no sign of one)."""
        return max(0, counts.leased - (self.in_flight + self.inline) - slack[1])

    def audit(self, counts: QueueCounts, slack: tuple[int, int, int] = (0, 0, 0)) -> str | None:
        """None when the backend holds what the ledger says, give or take `slack` (what the
        calls in progress may have moved: queued, leased, dead), else what differs.

        Compared: queued (ready + delayed: the boundary between the two is a clock reading
        the two sides take at different instants), leased (in flight and inline backoffs
        hold their lease) and dead.
        """
        queued = self.waiting + len(self._due)
        leased = self.in_flight + self.inline
        sq, sl, sd = slack
        problems = []
        if abs(counts.ready + counts.delayed - queued) > sq:
            problems.append(f"queued: backend {counts.ready + counts.delayed} (ready "
                            f"{counts.ready} + delayed {counts.delayed}), engine {queued}")
        if abs(counts.leased - leased) > sl:
            problems.append(f"leased: backend {counts.leased}, engine {leased}")
        if abs(counts.dead - self.dead) > sd:
            problems.append(f"dead: backend {counts.dead}, engine {self.dead}")
        if problems and any(slack):
            problems.append(f"calls in progress allow ±{sq} queued, ±{sl} leased, ±{sd} dead")
        return "; ".join(problems) or None


class InFlightCalls:
    """Backend calls in progress, by how many tasks each may move between the counts an
    audit compares (queued, leased, dead); `window()` also gathers every call begun during
    an audit, since the backend's snapshot may fall before or after any of them.
    """

    __slots__ = ("_windows", "dead", "leased", "queued")

    def __init__(self) -> None:
        self.queued = self.leased = self.dead = 0
        self._windows: list[list[int]] = []

    def call(self, queued: int, leased: int, dead: int) -> _Call:
        """`with calls.call(q, l, d): await queue.…` around a call that changes the queue."""
        return _Call(self, queued, leased, dead)

    def window(self) -> list[int]:
        """Open an audit window: the slack so far, growing with every call begun in it."""
        w = [self.queued, self.leased, self.dead]
        self._windows.append(w)
        return w

    def close(self, window: list[int]) -> tuple[int, int, int]:
        self._windows.remove(window)
        return window[0], window[1], window[2]


class _Call:
    __slots__ = ("_calls", "_d", "_l", "_q")

    def __init__(self, calls: InFlightCalls, q: int, l: int, d: int) -> None:  # noqa: E741
        self._calls, self._q, self._l, self._d = calls, q, l, d

    def __enter__(self) -> None:
        c = self._calls
        c.queued += self._q
        c.leased += self._l
        c.dead += self._d
        for w in c._windows:
            w[0] += self._q
            w[1] += self._l
            w[2] += self._d

    def __exit__(self, *exc: object) -> None:
        c = self._calls
        c.queued -= self._q
        c.leased -= self._l
        c.dead -= self._d
