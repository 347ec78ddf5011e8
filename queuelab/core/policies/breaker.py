"""Circuit breaker: stop feeding tasks to a failing downstream, then probe it carefully.

Retries alone keep hammering a dependency that is down; the breaker turns a run of failures
into a pause. CLOSED counts consecutive failures; `failure_threshold` of them open it. OPEN
refuses every task for `open_for` seconds, then the breaker turns HALF_OPEN and lets at most
`half_open_probes` trial tasks run at once: one failure re-opens it for another `open_for`,
`half_open_probes` successes close it.

Time is handed in, never read: the simulator asks `next_change(now)` to schedule the wake-up
at which OPEN turns HALF_OPEN, a live worker sleeps until then. The OPEN -> HALF_OPEN change
itself happens at the first call that observes a time past `reopens_at`.

Results of tasks started before the breaker last changed state describe the downstream as it
was, not as it is: a slow task started while CLOSED must not count as a half-open probe, nor
re-open a breaker its probes just closed. Engines read `epoch` right after `allow()` returned
True and hand it back with the result; such stale results are then ignored. Without an epoch
every result counts (and probe counts never go negative).
"""

from __future__ import annotations

from enum import StrEnum

from queuelab.core.checks import integer, known, number

_KNOBS = ("failure_threshold", "open_for", "half_open_probes")


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Consecutive-failure circuit breaker with timed re-opening and bounded half-open probes."""

    __slots__ = (
        "_epoch",
        "_failures",
        "_opened_at",
        "_probe_successes",
        "_probes",
        "_state",
        "_transitions",
        "failure_threshold",
        "half_open_probes",
        "open_for",
    )

    def __init__(self, failure_threshold: int, open_for: float, half_open_probes: int = 1) -> None:
        self.failure_threshold = integer("failure_threshold", failure_threshold, minimum=1)
        self.open_for = number("open_for", open_for, minimum=0.0)
        self.half_open_probes = integer("half_open_probes", half_open_probes, minimum=1)
        self._state = BreakerState.CLOSED
        self._failures = 0  # consecutive, while CLOSED
        self._opened_at = 0.0
        self._probes = 0  # probe tasks in flight, while HALF_OPEN
        self._probe_successes = 0
        self._transitions = 0
        self._epoch = 0

    # -- queries -------------------------------------------------------------------------

    def state(self, now: float) -> BreakerState:
        self._advance(now)
        return self._state

    @property
    def reopens_at(self) -> float | None:
        """When an OPEN breaker turns HALF_OPEN; None in any other state."""
        if self._state is BreakerState.OPEN:
            return self._opened_at + self.open_for
        return None

    @property
    def transitions(self) -> int:
        """State changes so far: a measure of flapping, for the plots."""
        return self._transitions

    @property
    def epoch(self) -> int:
        """Bumped at every state change; tag a task with it when `allow()` lets it start."""
        return self._epoch

    @property
    def consecutive_failures(self) -> int:
        return self._failures

    @property
    def probes_in_flight(self) -> int:
        return self._probes

    def next_change(self, now: float) -> float | None:
        """The time at which the state changes by itself (OPEN -> HALF_OPEN), if it will."""
        self._advance(now)
        return self.reopens_at

    # -- decisions -----------------------------------------------------------------------

    def allow(self, now: float) -> bool:
        """May a worker start a task now? In HALF_OPEN a True reserves one probe slot."""
        state = self._state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.OPEN:
            if now < self._opened_at + self.open_for:
                return False
            self._enter(BreakerState.HALF_OPEN)
        if self._probes < self.half_open_probes:
            self._probes += 1
            return True
        return False

    def release(self, now: float, epoch: int | None = None) -> None:
        """Give back a permission that was not used (no task ran), freeing its probe slot."""
        self._advance(now)
        if self._current(epoch) and self._state is BreakerState.HALF_OPEN and self._probes > 0:
            self._probes -= 1

    def record_success(self, now: float, epoch: int | None = None) -> None:
        self._advance(now)
        if not self._current(epoch):
            return
        state = self._state
        if state is BreakerState.CLOSED:
            self._failures = 0
        elif state is BreakerState.HALF_OPEN:
            if self._probes > 0:
                self._probes -= 1
            self._probe_successes += 1
            if self._probe_successes >= self.half_open_probes:
                self._enter(BreakerState.CLOSED)
        # OPEN: a straggler started before the breaker opened; it proves nothing now.

    def record_failure(self, now: float, epoch: int | None = None) -> None:
        self._advance(now)
        if not self._current(epoch):
            return
        state = self._state
        if state is BreakerState.CLOSED:
            self._failures += 1
            if self._failures >= self.failure_threshold:
                self._open(now)
        elif state is BreakerState.HALF_OPEN:
            self._open(now)

    def reconfigure(self, **knobs: object) -> None:
        """Change knobs at run time without resetting the state.

        A new `open_for` moves `reopens_at` of an already OPEN breaker (it counts from when it
        opened); a lower `failure_threshold` trips on the next failure; a lower
        `half_open_probes` lets the probes in flight finish but starts no new ones past it.
        """
        known("circuit breaker", knobs, _KNOBS)
        merged = {**self.knobs(), **knobs}
        threshold = integer("failure_threshold", merged["failure_threshold"], minimum=1)
        open_for = number("open_for", merged["open_for"], minimum=0.0)
        probes = integer("half_open_probes", merged["half_open_probes"], minimum=1)
        self.failure_threshold, self.open_for, self.half_open_probes = threshold, open_for, probes

    def knobs(self) -> dict[str, float]:
        return {
            "failure_threshold": self.failure_threshold,
            "open_for": self.open_for,
            "half_open_probes": self.half_open_probes,
        }

    def describe(self) -> str:
        return (
            f"breaker {self._state}: opens after {self.failure_threshold} consecutive failures "
            f"for {self.open_for:g}s, {self.half_open_probes} half-open probe(s)"
        )

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker(failure_threshold={self.failure_threshold}, "
            f"open_for={self.open_for!r}, half_open_probes={self.half_open_probes}, "
            f"state={self._state.value!r})"
        )

    # -- transitions ---------------------------------------------------------------------

    def _current(self, epoch: int | None) -> bool:
        return epoch is None or epoch == self._epoch

    def _advance(self, now: float) -> None:
        if self._state is BreakerState.OPEN and now >= self._opened_at + self.open_for:
            self._enter(BreakerState.HALF_OPEN)

    def _open(self, now: float) -> None:
        self._opened_at = now
        self._enter(BreakerState.OPEN)

    def _enter(self, state: BreakerState) -> None:
        self._state = state
        self._failures = 0
        self._probes = 0
        self._probe_successes = 0
        self._transitions += 1
        self._epoch += 1
