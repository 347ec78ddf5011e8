"""Small helpers for driving the real window from async tests on the qasync loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from queuelab.core.scenario import Scenario


def scenario(base: Scenario | None = None, **sections: dict[str, Any]) -> Scenario:
    """`base` (default: the default scenario) with some knobs of some sections replaced."""
    s = base or Scenario()
    for name, values in sections.items():
        s = replace(s, **{name: replace(getattr(s, name), **values)})
    return s


async def wait_until(pred: Callable[[], bool], timeout: float = 10.0, what: str = "") -> None:
    """Let the event loop run (timers, paints, asyncio) until `pred()` holds."""
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or pred}")
        await asyncio.sleep(0.01)


async def run_to_end(w: Any, timeout: float = 30.0) -> None:
    """Run the window's scenario at max speed to its end."""
    from queuelab.core.engine import RunState

    w.set_speed(None)
    w.toggle_run()
    engine = w.runner.engine
    assert engine is not None
    await wait_until(lambda: engine.state == RunState.FINISHED, timeout, "the run's end")
