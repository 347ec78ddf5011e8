"""What follows an attempt: the one rule both engines settle a task by.

An attempt ends succeeded, failed or timed out. A success is done (acked). A failure or a
timeout takes the backoff jitter's draw (always, so the stream stays aligned), then the
retry policy either gives a backoff - the task waits it out back in the queue (requeue
mode) or in the hands of its worker (inline mode) - or, once the attempts are spent, the
task is dead-lettered with the attempt's error. A worker whose inline backoff ends while
the circuit breaker is open hands the task back to the queue instead of trying again.

The synthetic service (the simulator's, and the live engine's when no handler is named)
decides an attempt's fate when it starts (`synthetic_fate`), and reports failures with the
error kinds and messages below: a dead letter reads the same whichever engine made it. A
user's handler reports its own exception's class name and message instead.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, final

from queuelab.core.policies.backoff import RetryPolicy
from queuelab.core.task import Outcome


class PoisonPill(Exception):
    """A poison task's attempt: it fails every one."""


class SyntheticFailure(Exception):
    """A transient failure drawn from the failure model."""


TIMEOUT = "Timeout"
POISON = PoisonPill.__name__
FAILURE = SyntheticFailure.__name__
POISON_MESSAGE = "poison task: fails every attempt"
STOPPED = "Stopped"
STOPPED_MESSAGE = "the run stopped before the attempt ended"
TERMINATED = "Terminated"


def terminated_message(grace: float) -> str:
    return (f"the worker was removed and killed after its {grace:g} s termination grace, "
            "before the attempt ended")


def timeout_message(timeout: float) -> str:
    return f"attempt exceeded the {timeout:g} s task timeout"


def failure_message(probability: float) -> str:
    return f"attempt failed (failure probability {probability:g})"


def synthetic_error(outcome: Outcome, poison: bool, *, timeout: float,
                    probability: float) -> tuple[str, str]:
    """The error kind and message a failed synthetic attempt reports."""
    if outcome is Outcome.TIMED_OUT:
        return TIMEOUT, timeout_message(timeout)
    if poison:
        return POISON, POISON_MESSAGE
    return FAILURE, failure_message(probability)


def synthetic_fate(fails: bool, duration: float, timeout: float) -> tuple[Outcome, float]:
    """A synthetic attempt's outcome and how long it runs, decided when it starts.

    `fails` is the failure model's answer for this attempt (`core.failures`: always for a
    poison task); an attempt longer than the task timeout (0 = none) is cut off there.
    The simulator's event loop writes this inline; `tests/sim/test_fast_path.py` holds the
    inlined loop to the general path that calls it.
    """
    if 0.0 < timeout < duration:
        return Outcome.TIMED_OUT, timeout
    return (Outcome.FAILED if fails else Outcome.SUCCEEDED), duration


class Action(StrEnum):
    ACK = "ack"  # done
    REQUEUE = "requeue"  # back to the queue, claimable after the backoff
    HOLD = "hold"  # inline retry: the worker sleeps through the backoff holding the task
    DEAD_LETTER = "dead letter"  # attempts spent: to the dead letters with the error
    HAND_BACK = "hand back"  # the breaker opened during an inline backoff: back to the queue
    RETRY = "retry"  # an inline backoff ended and the breaker lets the attempt start


@final
class Settlement:
    """An action, and the backoff for REQUEUE and HOLD. Read-only by convention.

    A plain slotted class rather than a NamedTuple or a frozen dataclass: this module is
    compiled with the simulator (`queuelab.native`), which makes it a native class that
    compiled code builds and reads without a Python call, where a NamedTuple's `__new__`
    is interpreted Python (~2,000 instructions per failed attempt) and a frozen
    dataclass's `__init__` goes through `object.__setattr__`.
    """

    __slots__ = ("action", "backoff")

    def __init__(self, action: Action, backoff: float | None = None) -> None:
        self.action = action
        self.backoff = backoff  # seconds, for REQUEUE and HOLD

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Settlement):
            return NotImplemented
        return self.action is other.action and self.backoff == other.backoff

    def __hash__(self) -> int:
        return hash((self.action, self.backoff))

    def __repr__(self) -> str:
        return f"Settlement({self.action!r}, {self.backoff!r})"


# Module constants are Final: compiled code reads them from C statics (a plain module name
# is a dict lookup at every use), and Enum members are looked up once here (an Enum class
# attribute costs ~0.25 µs on 3.11).
DONE: Final = Settlement(Action.ACK)
DEAD: Final = Settlement(Action.DEAD_LETTER)
_SUCCEEDED: Final[Outcome] = Outcome.SUCCEEDED
_HOLD: Final[Action] = Action.HOLD
_REQUEUE: Final[Action] = Action.REQUEUE
_RETRY: Final[Action] = Action.RETRY
_HAND_BACK: Final[Action] = Action.HAND_BACK


def settle(outcome: Outcome, attempts: int, retry: RetryPolicy, jitter: float, *,
           inline: bool) -> Settlement:
    """What follows an attempt that ended with `outcome`, the task's `attempts`-th.

    `jitter` is the backoff stream's draw; the caller takes it for every failed attempt,
    retried or not.
    """
    if outcome is _SUCCEEDED:
        return DONE
    if not retry.should_retry(attempts):
        return DEAD
    return Settlement(_HOLD if inline else _REQUEUE, retry.delay(attempts, jitter))


def after_backoff(admitted: bool) -> Action:
    """An inline backoff is over: try again if the breaker admits the attempt, else hand
    the task back to the queue (it keeps its place at the head where the queue allows)."""
    return _RETRY if admitted else _HAND_BACK
