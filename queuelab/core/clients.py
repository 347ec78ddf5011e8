"""Callers that give up and retry (`[clients]`): the one rule both engines play.

A task stands for one caller's request. The caller waits `timeout` seconds for the task to
start (0: it waits forever, and `[clients]` changes nothing). A task still waiting (not
started by any worker) at `created + timeout` is *abandoned* by its caller:

* the caller sends a retry - a new arrival, a new task with the same priority and poison
  (the same request), counted as created when it arrives - after a backoff from the
  `[retry]` policy's own `delay` (base_delay, multiplier, max_delay, jitter; its
  `max_attempts` is the workers' and means nothing here), if its request has been sent
  fewer than `1 + retries` times and the retry budget has a token;
* otherwise the caller gives up for good (`gave_up`; `budget_denied` of them for want of a
  token).

The abandoned task stays where it is. A worker that picks it up later either serves it
anyway - its work is wasted: counted as `wasted_work` worker-seconds, and its success
counts as done but not in the goodput - or, with `drop_expired`, drops it at pick-up
without serving it: it leaves the books as `abandoned`. So the books read created =
waiting + in flight + retrying + done + dead-lettered + discarded + rejected + abandoned.
A rejected arrival (`[queue] max_length`) is answered at once, so its caller does not
time out and never retries.

The retry budget (`retry_budget`, a fraction; 0 = no budget) is a token bucket, as
Finagle's RetryBudget and gRPC's retry throttling: each fresh arrival deposits
`retry_budget` tokens, each retry sent withdraws one, a retry that finds less than one token
is not sent; the bucket starts full and holds at most `BUDGET_TOKENS`. So client retries
never exceed `retry_budget` × fresh arrivals + `BUDGET_TOKENS`: a budget of 0.1 caps the
retries at about a tenth of the fresh load, whatever the callers' retries allow.

Each caller's timeout is fixed when its request is sent: a change of `clients.timeout`
applies to requests sent from then on. The backoff's jitter is one draw of the run's
`clients` stream per abandoned task, retried or not (`core.streams`), so the callers' dice
never move another decision's.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from queuelab.core.checks import integer, known, number
from queuelab.core.limits import MAX_ATTEMPTS, MAX_RETRY_BUDGET, MAX_SECONDS, TICK
from queuelab.core.policies.backoff import RetryPolicy

BUDGET_TOKENS = 10.0
"""The most tokens the retry budget holds (gRPC's example `maxTokens`): the burst of retries
a budget allows before its deposits must pay for them."""

_KNOBS = ("timeout", "retries", "retry_budget", "drop_expired")


class RetryBudget:
    """The token bucket: `ratio` tokens in per fresh arrival, one out per retry.

    Deposits are counted lazily from the number of fresh arrivals so far, so an engine pays
    nothing per arrival: depositing n × ratio at once, capped, leaves the bucket exactly where
    n capped deposits of ratio would (once full it stays full until a withdrawal).
    """

    __slots__ = ("_seen", "ratio", "tokens")

    def __init__(self, ratio: float) -> None:
        self.ratio = number("retry_budget", ratio, minimum=0.0, maximum=MAX_RETRY_BUDGET)
        self.tokens = BUDGET_TOKENS
        self._seen = 0  # fresh arrivals deposited so far

    def _deposit(self, fresh: int) -> None:
        if fresh > self._seen:
            self.tokens = min(BUDGET_TOKENS, self.tokens + (fresh - self._seen) * self.ratio)
            self._seen = fresh

    def withdraw(self, fresh: int) -> bool:
        """A retry asks for a token after `fresh` fresh arrivals in all: True (one taken)
        when the bucket has one, or when there is no budget (ratio 0)."""
        if self.ratio == 0.0:
            return True
        self._deposit(fresh)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def reconfigure(self, ratio: float, fresh: int) -> None:
        """A new ratio from now on: what was deposited so far stays at the old ratio."""
        self._deposit(fresh)
        self.ratio = number("retry_budget", ratio, minimum=0.0, maximum=MAX_RETRY_BUDGET)


class GiveUp(StrEnum):
    RETRIES_SPENT = "retries spent"
    NO_TOKEN = "no retry-budget token"


class Verdict(NamedTuple):
    """What an abandoning caller does: retry after `backoff` seconds, or give up (`why`)."""

    backoff: float | None
    why: GiveUp | None = None


class CallerTally:
    """What the callers did so far, counted the same way by both engines (frames, summary)."""

    __slots__ = ("denied", "gave_up", "retries", "timeouts", "wasted_done", "wasted_work")

    def __init__(self) -> None:
        self.timeouts = 0  # tasks abandoned by their caller while waiting
        self.retries = 0  # retries sent (each a new task, counted in `created`)
        self.gave_up = 0  # callers that timed out and sent nothing more …
        self.denied = 0  # … of them for want of a retry-budget token
        self.wasted_done = 0  # successes of tasks whose caller had gone (not goodput)
        self.wasted_work = 0.0  # worker-seconds of attempts at such tasks

    def wasted(self, service: float, ok: bool) -> None:
        """An attempt at a task whose caller had gone ended."""
        self.wasted_work += service
        if ok:
            self.wasted_done += 1

    def figures(self, abandoned: int) -> dict[str, float | int]:
        """The run summary's figures; `abandoned` is the books' (dropped unserved)."""
        return {"client_timeouts": self.timeouts, "client_retries": self.retries,
                "gave_up": self.gave_up, "budget_denied": self.denied,
                "abandoned": abandoned, "wasted_done": self.wasted_done,
                "wasted_work": round(self.wasted_work, 6)}


class Callers:
    """The callers' policy: their timeout, their retries and the retry budget; `tally`
    counts what they did."""

    __slots__ = ("budget", "drop_expired", "retries", "tally", "timeout")

    def __init__(self, timeout: float = 0.0, retries: int = 0, retry_budget: float = 0.0,
                 drop_expired: bool = False) -> None:
        self.timeout = 0.0
        self.retries = 0
        self.drop_expired = False
        self.budget = RetryBudget(retry_budget)
        self.tally = CallerTally()
        self._apply(timeout=timeout, retries=retries, drop_expired=drop_expired)

    def _apply(self, *, timeout: object, retries: object, drop_expired: object) -> None:
        self.timeout = number("timeout", timeout, minimum=0.0, maximum=MAX_SECONDS, tick=TICK)
        self.retries = integer("retries", retries, minimum=0, maximum=MAX_ATTEMPTS)
        self.drop_expired = bool(drop_expired)

    @property
    def active(self) -> bool:
        """Callers time out at all (a timeout is set)."""
        return self.timeout > 0.0

    def abandon(self, tries: int, fresh: int, u: float, backoff: RetryPolicy) -> Verdict:
        """The caller of a task that was its request's `tries`-th retry (0: the first send)
        timed out, after `fresh` fresh arrivals in the run; `u` is its `clients` draw.
        Counted in the tally (the retry itself once it is sent)."""
        tally = self.tally
        tally.timeouts += 1
        if tries >= self.retries:
            tally.gave_up += 1
            return Verdict(None, GiveUp.RETRIES_SPENT)
        if not self.budget.withdraw(fresh):
            tally.gave_up += 1
            tally.denied += 1
            return Verdict(None, GiveUp.NO_TOKEN)
        return Verdict(backoff.delay(tries + 1, u))

    def drops(self, abandoned: bool) -> bool:
        """A worker picks up a task: True when it drops it unserved (its caller has gone and
        expired work is dropped); otherwise it serves it (wasted work if `abandoned`)."""
        return abandoned and self.drop_expired

    def reconfigure(self, fresh: int, **knobs: object) -> None:
        """Change knobs while running: a caller's timeout is the one in force when it sends."""
        known("clients", knobs, _KNOBS)
        now = self.knobs() | knobs
        self._apply(timeout=now["timeout"], retries=now["retries"],
                    drop_expired=now["drop_expired"])
        self.budget.reconfigure(float(now["retry_budget"]), fresh)  # type: ignore[arg-type]

    def knobs(self) -> dict[str, object]:
        return {"timeout": self.timeout, "retries": self.retries,
                "retry_budget": self.budget.ratio, "drop_expired": self.drop_expired}

    def describe(self) -> str:
        if not self.active:
            return "clients: wait forever (no timeout)"
        budget = (f"a retry budget of {self.budget.ratio:g} per fresh arrival "
                  f"(at most {BUDGET_TOKENS:g} tokens)" if self.budget.ratio else "no retry budget")
        expired = "dropped at pick-up" if self.drop_expired else "served anyway (wasted)"
        return (f"clients: give up after {self.timeout:g}s waiting, {self.retries} retries "
                f"with the [retry] backoff, {budget}; abandoned tasks {expired}")
