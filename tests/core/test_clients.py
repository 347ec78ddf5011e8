"""The callers' rule (`core.clients`): the retry budget's token bucket, when a caller that
timed out retries or gives up, and what a worker does with a task whose caller has gone."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core import budget
from queuelab.core.clients import BUDGET_TOKENS, Callers, GiveUp, RetryBudget
from queuelab.core.policies.backoff import RetryPolicy
from queuelab.core.reference import why_not_mmc
from queuelab.core.scenario import Scenario
from queuelab.core.timeline import TimelineEntry


def test_the_bucket_starts_full_and_a_retry_costs_one_token() -> None:
    b = RetryBudget(0.1)
    assert b.tokens == BUDGET_TOKENS
    assert all(b.withdraw(0) for _ in range(int(BUDGET_TOKENS)))
    assert not b.withdraw(0)  # empty, and no fresh arrival has deposited since
    assert not b.withdraw(9)  # 9 x 0.1 = 0.9 tokens: still short of one
    assert b.withdraw(10)  # the tenth fresh arrival makes one token
    assert not b.withdraw(10)


def test_deposits_are_capped() -> None:
    b = RetryBudget(0.5)
    b.withdraw(0)
    assert b.withdraw(1_000_000)
    assert b.tokens == BUDGET_TOKENS - 1  # a million deposits filled it once, no more


def test_no_budget_allows_every_retry() -> None:
    b = RetryBudget(0.0)
    assert all(b.withdraw(0) for _ in range(1000))


@given(ratio=st.floats(0.01, 1.0), fresh=st.lists(st.integers(0, 50), max_size=200))
def test_retries_never_exceed_the_budgets_share_plus_the_bucket(ratio: float,
                                                               fresh: list[int]) -> None:
    """Whatever the asking pattern: retries sent <= ratio x fresh arrivals + the bucket."""
    b = RetryBudget(ratio)
    seen = sent = 0
    for n in fresh:
        seen += n
        sent += b.withdraw(seen)
    assert sent <= ratio * seen + BUDGET_TOKENS + 1e-9


def test_a_new_ratio_applies_to_deposits_from_then_on() -> None:
    b = RetryBudget(0.1)
    for _ in range(int(BUDGET_TOKENS)):
        b.withdraw(0)
    b.reconfigure(1.0, 10)  # the first 10 fresh arrivals deposited 0.1 each: one token
    assert b.tokens == pytest.approx(1.0)
    assert b.withdraw(12)  # and two more at 1.0 each: three in all
    assert b.withdraw(12) and b.withdraw(12)
    assert not b.withdraw(12)


def test_a_caller_retries_with_the_retry_policys_backoff_until_its_retries_are_spent() -> None:
    retry = RetryPolicy(max_attempts=1, base_delay=0.5, multiplier=2.0, max_delay=4.0,
                        jitter="none")  # max_attempts is the workers' and means nothing here
    c = Callers(timeout=2.0, retries=3)
    assert [c.abandon(tries, 0, 0.5, retry).backoff for tries in range(3)] == [0.5, 1.0, 2.0]
    assert c.abandon(3, 0, 0.5, retry) == (None, GiveUp.RETRIES_SPENT)
    full = RetryPolicy(max_attempts=1, base_delay=0.5, max_delay=4.0, jitter="full")
    assert c.abandon(1, 0, 0.25, full).backoff == pytest.approx(0.25)  # the caller's draw


def test_a_caller_without_a_token_gives_up() -> None:
    retry = RetryPolicy(max_attempts=1, base_delay=0.0, max_delay=0.0)
    c = Callers(timeout=1.0, retries=5, retry_budget=0.1)
    verdicts = [c.abandon(0, 0, 0.0, retry) for _ in range(int(BUDGET_TOKENS) + 1)]
    assert verdicts[-1] == (None, GiveUp.NO_TOKEN)
    assert all(v.backoff == 0.0 for v in verdicts[:-1])


def test_expired_work_is_dropped_only_when_the_callers_say_so() -> None:
    assert not Callers(timeout=1.0).drops(True)
    assert Callers(timeout=1.0, drop_expired=True).drops(True)
    assert not Callers(timeout=1.0, drop_expired=True).drops(False)


@pytest.mark.parametrize(("knobs", "message"), [
    ({"timeout": -1.0}, "timeout: must be >= 0 (got -1)"),
    ({"retries": -2}, "retries: must be >= 0 (got -2)"),
    ({"retries": 1.5}, "retries: must be a whole number (got 1.5)"),
    ({"retry_budget": 1.5}, "retry_budget: must be <= 1 (got 1.5)"),
    ({"retry_budget": float("nan")}, "retry_budget: must be a finite number (got nan)"),
])
def test_bad_knobs_are_refused_by_name(knobs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Callers(**knobs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=message.split(":")[0]):
        Callers(timeout=1.0).reconfigure(0, **knobs)


def test_reconfigure_refuses_an_unknown_knob() -> None:
    with pytest.raises(ValueError, match="patience: not a knob of the clients"):
        Callers().reconfigure(0, patience=3)


def _storm(**clients: object) -> Scenario:
    s = Scenario()
    return replace(s, run=replace(s.run, duration=3600.0),
                   arrivals=replace(s.arrivals, rate=20_000.0),
                   clients=replace(s.clients, **clients))


def test_the_run_budget_counts_every_send_of_a_request() -> None:
    """A caller may send its request 1 + retries times: the budget counts the retries, so a
    file cannot slip a run of 10^9 tasks past it."""
    patient = _storm(retries=5)  # no timeout: callers wait, nobody retries
    assert budget.sends(patient) == 1 and budget.over_budget(patient) == []
    impatient = _storm(timeout=2.0, retries=5)
    assert budget.sends(impatient) == 6
    assert budget.tasks(impatient) == 6 * budget.tasks(patient)
    ((path, why),) = budget.over_budget(impatient)
    assert path == "arrivals.rate" and "each sent up to 6 times by its caller" in why
    assert "clients.retries" in why
    scripted = replace(patient, timeline=(TimelineEntry(10.0, "clients.timeout", 2.0),
                                          TimelineEntry(20.0, "clients.retries", 9)))
    assert budget.sends(scripted) == 10


def test_callers_that_retry_or_drop_take_a_scenario_out_of_the_formulas() -> None:
    s = replace(Scenario(), pool=replace(Scenario().pool, strategy="fixed", workers=4))
    assert why_not_mmc(s) is None
    waiting = replace(s, clients=replace(s.clients, timeout=2.0))  # abandon, still served
    assert why_not_mmc(waiting) is None
    for clients in ({"retries": 1}, {"drop_expired": True}):
        why = why_not_mmc(replace(waiting, clients=replace(waiting.clients, **clients)))
        assert why is not None and "clients.timeout" in why
