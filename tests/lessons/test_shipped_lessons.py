"""Every shipped lesson reads, runs headless in the simulator, and its checks pass: the
numbers each lesson claims are the numbers the simulator measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.lessons.files import find_lesson, load_lesson, shipped_lessons
from queuelab.lessons.headless import run_lesson

ROOT = Path(__file__).resolve().parents[2]
LESSONS = shipped_lessons()
TOPICS = ("delay-near-saturation", "pooling", "variability", "littles-law",
          "priority-starvation", "retry-storm", "autoscaler-flapping", "cold-start",
          "backpressure", "poison-pills")


def test_the_ten_lessons_of_the_teaching_plan_are_shipped_in_order() -> None:
    assert [p.stem for p in LESSONS] == [f"{i:02d}-{t}" for i, t in enumerate(TOPICS, 1)]
    assert all(p.is_relative_to(ROOT / "resources" / "lessons") for p in LESSONS)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_a_shipped_lesson_runs_and_its_checks_pass(path: Path) -> None:
    lesson = load_lesson(path)
    outcomes = list(run_lesson(lesson))
    assert outcomes, "a lesson runs something"
    assert any(o.step.predict is not None for o in outcomes), "a lesson asks for a prediction"
    checks = [c for o in outcomes for c in o.checks]
    assert len(checks) >= 2
    failed = [f"step {o.index + 1}: {c.text()}" for o in outcomes for c in o.checks
              if not c.passed]
    assert not failed, "\n".join(failed)
    for o in outcomes:
        o.run.books.check()  # the books balance in every lesson run


def test_lesson_list_names_every_shipped_lesson(capsys: pytest.CaptureFixture) -> None:
    assert main(["lesson", "list"]) == 0
    out = capsys.readouterr().out
    for path in LESSONS:
        assert f"{path.stem} " in out and load_lesson(path).title in out


def test_lesson_run_by_number_prints_each_check_with_its_measurement(
        capsys: pytest.CaptureFixture) -> None:
    assert find_lesson("9") == find_lesson("09-backpressure") == LESSONS[8]
    assert main(["lesson", "run", "9"]) == 0
    out = capsys.readouterr().out
    assert "[pass] Share of arrivals rejected: measured 0.1" in out
    assert "answer: 1200 tasks" in out and "all checks passed" in out
