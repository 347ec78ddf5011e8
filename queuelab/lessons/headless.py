"""Running a lesson without a window: each step's run in the simulator, its checks read.

The window's lesson pane runs the same steps in the window (the plots show them) and reads
the same checks with `lessons.measure.evaluate`; this module is what `queuelab lesson run`
and the tests use.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from queuelab.core.engine import RunState
from queuelab.core.metrics import MetricsFrame
from queuelab.core.scenario import Scenario
from queuelab.lessons.measure import CheckResult, RunResult, evaluate
from queuelab.lessons.model import Lesson, Step
from queuelab.sim.engine import SimEngine

SLICE_FRAMES = 10_000  # frames simulated between two collections (the engine buffers 100,000)


def simulate(scenario: Scenario) -> RunResult:
    """Run a scenario to its end in the simulator and keep every frame."""
    engine = SimEngine(scenario)
    engine.start()
    frames: list[MetricsFrame] = []
    slice_ = SLICE_FRAMES * scenario.run.sample_interval
    t = 0.0
    while engine.state is not RunState.FINISHED:
        t += slice_
        engine.run_until(t)
        frames.extend(engine.take_frames())
    frames.extend(engine.take_frames())
    return RunResult.from_rows(engine.summary(), engine.totals(), frames)


@dataclass(frozen=True, slots=True)
class StepOutcome:
    index: int
    step: Step
    run: RunResult
    checks: tuple[CheckResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)


def run_lesson(lesson: Lesson) -> Iterator[StepOutcome]:
    """Each step that runs, in order, with its checks read (steps without a run are skipped)."""
    for i, step in enumerate(lesson.steps):
        if not step.run or step.scenario is None:
            continue
        result = simulate(step.scenario)
        yield StepOutcome(i, step, result, tuple(evaluate(c, result) for c in step.checks))
