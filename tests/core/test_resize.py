"""The shared resize plan: grow by keeping drainers first, shrink starting, idle, then busy."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.policies.resize import ResizePlan, plan_resize


@dataclass(eq=False)
class W:
    state: str  # starting | idle | busy
    draining: bool = False


def plan(members: list[W], target: int) -> ResizePlan[W]:
    return plan_resize(members, target, draining=lambda w: w.draining,
                       starting=lambda w: w.state == "starting", idle=lambda w: w.state == "idle")


def test_growing_keeps_draining_workers_before_adding() -> None:
    ws = [W("busy"), W("busy", draining=True), W("idle")]
    p = plan(ws, 4)
    assert p.undrain == (ws[1],) and p.add == 1 and not p.remove and not p.drain


def test_shrinking_drops_starting_then_idle_newest_first_then_drains_busy() -> None:
    ws = [W("busy"), W("idle"), W("busy"), W("starting"), W("idle")]
    p = plan(ws, 1)
    assert p.remove == (ws[3], ws[4], ws[1])
    assert p.drain == (ws[2],)
    assert plan(ws, 5).add == 0 and plan(ws, 5).remove == ()


def test_negative_target_is_refused() -> None:
    with pytest.raises(ValueError, match="target: must be >= 0"):
        plan([], -1)


@given(states=st.lists(st.sampled_from(["starting", "idle", "busy"]), max_size=12),
       drains=st.lists(st.booleans(), min_size=12, max_size=12), target=st.integers(0, 15))
def test_the_plan_reaches_the_target_and_never_removes_a_busy_worker(
        states: list[str], drains: list[bool], target: int) -> None:
    ws = [W(s, draining=d and s == "busy") for s, d in zip(states, drains, strict=False)]
    p = plan(ws, target)
    counted = sum(not w.draining for w in ws)
    after = counted + len(p.undrain) + p.add - len(p.remove) - len(p.drain)
    assert after == target
    assert all(w.state != "busy" for w in p.remove)
    assert all(not w.draining for w in p.drain) and all(w.draining for w in p.undrain)
