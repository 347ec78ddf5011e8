"""Shared by the runtime tests: building scenarios and running a live engine to its end."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from queuelab.backends.memory import MemoryQueue
from queuelab.core.engine import RunState
from queuelab.core.metrics import MetricsFrame
from queuelab.core.scenario import Scenario
from queuelab.core.validation import validate
from queuelab.runtime.engine import LiveEngine


def scenario(**sections: dict[str, Any]) -> Scenario:
    """A default scenario with some sections' knobs replaced: scenario(pool={"workers": 2})."""
    s = Scenario(name="test")
    for name, knobs in sections.items():
        s = replace(s, **{name: replace(getattr(s, name), **knobs)})
    return validate(s)


def balanced(frame: MetricsFrame, discarded: int = 0) -> bool:
    """Every task created (or carried over) is in one place at the frame's time."""
    return frame.created + frame.carried_over == (
        frame.depth + frame.in_flight + frame.retrying + frame.done + frame.dead_letters
        + discarded + frame.by_others + frame.rejected + frame.abandoned)


def live(s: Scenario, **options: Any) -> LiveEngine:
    """A live engine on a private memory queue (tests never share the process-wide ones)."""
    return LiveEngine(s, MemoryQueue(), **options)


async def run_to_end(engine: LiveEngine, *, every: float = 0.01,
                     watch: Callable[[LiveEngine], None] | None = None) -> list[MetricsFrame]:
    """Start, run to the end checking conservation all along; the frames.

    The totals are checked every `every` wall seconds and every frame is checked as it
    comes; at the end the engine's books must have matched the backend's at every frame.
    """
    if engine.state is RunState.IDLE:
        engine.start()
    frames: list[MetricsFrame] = []
    while engine.state is not RunState.FINISHED:
        await asyncio.sleep(every)
        engine.totals().check()
        frames.extend(engine.take_frames())
        if watch is not None:
            watch(engine)
    await engine.wait()
    frames.extend(engine.take_frames())
    engine.totals().check()
    bad = [f for f in frames if not balanced(f)]
    assert not bad, f"unbalanced frames: {bad[:3]}"
    assert engine.audit_failures == [], engine.audit_failures[:3]
    assert engine.shared is None, engine.shared  # a test's queue is its own
    assert engine.audits > 0
    return frames
