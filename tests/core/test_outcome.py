"""The one rule for what follows an attempt, and the errors a synthetic attempt reports."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.outcome import (
    FAILURE,
    POISON,
    POISON_MESSAGE,
    TIMEOUT,
    Action,
    PoisonPill,
    SyntheticFailure,
    after_backoff,
    settle,
    synthetic_error,
    synthetic_fate,
)
from queuelab.core.policies import RetryPolicy
from queuelab.core.task import Outcome

RETRY = RetryPolicy(max_attempts=3, base_delay=1.0, multiplier=2.0, max_delay=10.0,
                    jitter="full")


def test_a_success_is_done_whatever_the_attempt() -> None:
    for attempts in (1, 3, 7):
        then = settle(Outcome.SUCCEEDED, attempts, RETRY, 0.5, inline=False)
        assert then.action is Action.ACK and then.backoff is None


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.TIMED_OUT])
def test_a_failure_retries_with_the_jittered_backoff_then_dead_letters(
        outcome: Outcome) -> None:
    assert settle(outcome, 1, RETRY, 0.5, inline=False).backoff == 0.5  # half of 1 s
    assert settle(outcome, 2, RETRY, 0.25, inline=False).backoff == 0.5  # a quarter of 2 s
    assert settle(outcome, 1, RETRY, 0.5, inline=False).action is Action.REQUEUE
    assert settle(outcome, 1, RETRY, 0.5, inline=True).action is Action.HOLD
    spent = settle(outcome, 3, RETRY, 0.5, inline=True)
    assert spent.action is Action.DEAD_LETTER and spent.backoff is None


@given(st.integers(1, 20), st.floats(0.0, 1.0, exclude_max=True), st.booleans())
def test_settle_agrees_with_the_retry_policy(attempts: int, u: float, inline: bool) -> None:
    then = settle(Outcome.FAILED, attempts, RETRY, u, inline=inline)
    if RETRY.should_retry(attempts):
        assert then.backoff == RETRY.delay(attempts, u)
        assert then.action is (Action.HOLD if inline else Action.REQUEUE)
    else:
        assert then == settle(Outcome.TIMED_OUT, attempts, RETRY, u, inline=inline)
        assert then.action is Action.DEAD_LETTER


def test_the_breaker_sends_an_inline_retry_back_to_the_queue() -> None:
    assert after_backoff(True) is Action.RETRY
    assert after_backoff(False) is Action.HAND_BACK


def test_synthetic_fate_cuts_at_the_timeout() -> None:
    assert synthetic_fate(False, 0.4, 0.0) == (Outcome.SUCCEEDED, 0.4)
    assert synthetic_fate(True, 0.4, 0.0) == (Outcome.FAILED, 0.4)
    assert synthetic_fate(True, 0.4, 0.5) == (Outcome.FAILED, 0.4)
    assert synthetic_fate(False, 0.6, 0.5) == (Outcome.TIMED_OUT, 0.5)
    assert synthetic_fate(False, 0.5, 0.5) == (Outcome.SUCCEEDED, 0.5)  # not past it


def test_error_kinds_are_the_exceptions_the_live_synthetic_handler_raises() -> None:
    """The live engine reports `type(exc).__name__`; saved filters and exports name them."""
    assert (PoisonPill.__name__, SyntheticFailure.__name__) == (POISON, FAILURE)
    assert (POISON, FAILURE, TIMEOUT) == ("PoisonPill", "SyntheticFailure", "Timeout")
    assert synthetic_error(Outcome.TIMED_OUT, True, timeout=0.5, probability=0.1) == (
        TIMEOUT, "attempt exceeded the 0.5 s task timeout")
    assert synthetic_error(Outcome.FAILED, True, timeout=0.5, probability=0.1) == (
        POISON, POISON_MESSAGE)
    assert synthetic_error(Outcome.FAILED, False, timeout=0.0, probability=0.1) == (
        FAILURE, "attempt failed (failure probability 0.1)")
