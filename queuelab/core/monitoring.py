"""What a read-only watch of a real queue sees, and what follows from it, without I/O.

A source (`queuelab.sources`) reads a queue it does not own and returns one `Sample` per
poll: the levels it can see (ready, in flight, failed, delayed, consumers) and, where it
has them, cumulative counters or the server's own rates. Everything a source cannot see is
None, never 0: a 0 would plot as a real (and flattering) value. A poll that failed is a
`Sample` with an `error`: the plots leave a gap there rather than draw a line across it.

Rates are derived here, once, for the monitor engine, the history store and the replay:

* a rate the server reports itself (RabbitMQ's publish and ack rates) is used as it is;
* else a cumulative counter (RQ's workers' finished-job counts, procrastinate's succeeded
  rows) gives Δcount / Δt; a counter that went down (a worker left, rows deleted) starts
  over and that interval has no rate;
* else arrivals follow from flow balance: what arrived = what finished (completed and
  failed) + how much the backlog grew. `RateDerivation.text` says which, for the tooltip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

NAN = math.nan


@dataclass(frozen=True, slots=True)
class Sample:
    """One poll of a source at wall-clock time `t` (seconds since the epoch)."""

    t: float
    ready: int | None = None  # waiting to be taken now
    in_flight: int | None = None  # taken and not finished (unacked, started)
    failed: int | None = None  # parked as failed or dead
    delayed: int | None = None  # scheduled for later (retries, deferred, eta)
    consumers: int | None = None  # workers or consumers attached
    arrived: float | None = None  # cumulative arrivals counter, where the server keeps one
    completed: float | None = None  # cumulative completions counter, where it keeps one
    arrival_rate: float | None = None  # per second, as the server reports it
    completion_rate: float | None = None  # per second, as the server reports it
    error: str | None = None  # why the poll failed (a gap); never holds a password

    @property
    def reachable(self) -> bool:
        return self.error is None

    @property
    def backlog(self) -> int | None:
        """Tasks in the system that have not ended: ready + in flight + delayed (known parts)."""
        if not self.reachable or self.ready is None:
            return None
        return self.ready + (self.in_flight or 0) + (self.delayed or 0)


def gap(t: float, error: str) -> Sample:
    """The sample of a poll that failed: no values, only why."""
    return Sample(t=t, error=error)


class Rates(NamedTuple):
    arrival: float  # per second, NaN when it cannot be known
    completion: float


class RateDerivation(NamedTuple):
    """How a source's rates are obtained: shown in the plot's tooltip."""

    arrival: str
    completion: str

    @property
    def text(self) -> str:
        return f"arrival rate: {self.arrival}; completion rate: {self.completion}"


REPORTED = "reported by the server"
FROM_COUNTER = "Δ of the server's cumulative counter / Δt between polls"
FLOW_BALANCE = ("flow balance: (completed + failed in the interval + growth of ready, "
                "in flight and delayed) / Δt")
UNKNOWN = "not available from this source"


def _counter_rate(a: float | None, b: float | None, dt: float) -> float:
    if a is None or b is None or dt <= 0.0 or b < a:
        return NAN  # unknown, or a counter that restarted: no rate for this interval
    return (b - a) / dt


def rates(prev: Sample | None, cur: Sample) -> Rates:
    """Arrival and completion rates over the interval that ends at `cur` (NaN if unknown)."""
    if not cur.reachable:
        return Rates(NAN, NAN)
    ok_prev = prev is not None and prev.reachable
    dt = cur.t - prev.t if prev is not None else 0.0
    if cur.completion_rate is not None:
        completion = cur.completion_rate
    elif ok_prev:
        completion = _counter_rate(prev.completed, cur.completed, dt)  # type: ignore[union-attr]
    else:
        completion = NAN
    if cur.arrival_rate is not None:
        arrival = cur.arrival_rate
    elif not ok_prev or dt <= 0.0:
        arrival = NAN
    elif cur.arrived is not None and prev.arrived is not None:  # type: ignore[union-attr]
        arrival = _counter_rate(prev.arrived, cur.arrived, dt)  # type: ignore[union-attr]
    else:
        arrival = _flow_balance(prev, cur, dt)  # type: ignore[arg-type]
    return Rates(arrival, completion)


def _flow_balance(prev: Sample, cur: Sample, dt: float) -> float:
    before, after = prev.backlog, cur.backlog
    if before is None or after is None or prev.completed is None or cur.completed is None:
        return NAN
    done = cur.completed - prev.completed
    if done < 0:
        return NAN  # the counter restarted
    failed = 0
    if prev.failed is not None and cur.failed is not None:
        failed = max(0, cur.failed - prev.failed)
    return max(0.0, (after - before + done + failed) / dt)


def derivation(*, arrival_reported: bool, arrival_counter: bool, completion_reported: bool,
               completion_counter: bool) -> RateDerivation:
    """The tooltip text for a source with these capabilities."""
    if arrival_reported:
        arrival = REPORTED
    elif arrival_counter:
        arrival = FROM_COUNTER
    elif completion_reported or completion_counter:
        arrival = FLOW_BALANCE
    else:
        arrival = UNKNOWN
    if completion_reported:
        completion = REPORTED
    elif completion_counter:
        completion = FROM_COUNTER
    else:
        completion = UNKNOWN
    return RateDerivation(arrival, completion)


# ------------------------------------------------------------------------------ alerts


@dataclass(frozen=True, slots=True)
class AlertRules:
    """When to raise an alert: a backlog above `backlog` (0 = off), or a backlog that has
    grown without a fall for `growing_minutes` minutes (0 = off)."""

    backlog: int = 0
    growing_minutes: float = 0.0


@dataclass(frozen=True, slots=True)
class Alert:
    t: float
    rule: str  # "backlog" or "growing"
    text: str


class AlertWatch:
    """Feeds samples through `AlertRules`; `observe` returns the alerts that fire now.

    An alert fires once when its condition starts to hold and again only after it has
    cleared: a desktop notification per episode, not one per poll. A gap neither clears
    nor fires anything: an unreachable source says nothing about its backlog.
    """

    def __init__(self, rules: AlertRules) -> None:
        self.rules = rules
        self._over = False
        self._growing = False
        self._since: tuple[float, int] | None = None  # (time, backlog) growth started from
        self._last: tuple[float, int] | None = None  # the previous reachable sample

    def observe(self, s: Sample) -> list[Alert]:
        backlog = s.backlog
        if backlog is None:
            return []
        out: list[Alert] = []
        limit = self.rules.backlog
        over = limit > 0 and backlog > limit
        if over and not self._over:
            out.append(Alert(s.t, "backlog", f"backlog {backlog:,} is above {limit:,}"))
        self._over = over
        last = self._last
        if last is not None and backlog < last[1]:
            self._since = None  # any fall ends a growth episode
        elif last is not None and backlog > last[1] and self._since is None:
            self._since = last
        self._last = (s.t, backlog)
        minutes = self.rules.growing_minutes
        since = self._since
        growing = (minutes > 0 and since is not None and backlog > since[1]
                   and s.t - since[0] >= 60.0 * minutes)
        if growing and not self._growing and since is not None:
            out.append(Alert(s.t, "growing",
                             f"backlog growing for {(s.t - since[0]) / 60.0:.1f} min "
                             f"({since[1]:,} → {backlog:,})"))
        self._growing = growing
        return out
