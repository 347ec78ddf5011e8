"""`queuelab lesson list` and `queuelab lesson run FILE|NAME`: lessons without a window.

`run` plays every step that runs in the simulator and prints each check with its measured
number; the exit status is 0 when every check passed, 1 when one failed and 2 when the
lesson file is refused (each problem named with its place in the file).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from queuelab.lessons.files import find_lesson, load_lesson, shipped_lessons
from queuelab.lessons.headless import run_lesson
from queuelab.lessons.measure import fmt
from queuelab.lessons.model import Lesson, LessonError

EXIT_FAILED = 1
EXIT_INVALID = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    ls = sub.add_parser("list", help="List the shipped lessons.")
    ls.set_defaults(func=_list)
    run = sub.add_parser("run", help="Run a lesson's steps in the simulator and check them.")
    run.add_argument("lesson", nargs="+", help="a lesson.toml, its folder, or a shipped "
                     "lesson's name or number (see `queuelab lesson list`)")
    run.set_defaults(func=_run)


def _list(ns: argparse.Namespace) -> int:
    for path in shipped_lessons():
        try:
            lesson = load_lesson(path)
        except LessonError as exc:
            print(f"{path.stem:<28} (refused: {exc.errors[0]})")
            continue
        print(f"{path.stem:<28} {lesson.title}")
    return 0


def _run(ns: argparse.Namespace) -> int:
    status = 0
    for name in ns.lesson:
        try:
            path = find_lesson(name)
            lesson = load_lesson(path)
        except FileNotFoundError as exc:
            print(f"queuelab: {exc}", file=sys.stderr)
            status = EXIT_INVALID
            continue
        except LessonError as exc:
            print(f"{name}: invalid lesson", file=sys.stderr)
            for err in exc.errors:
                print(f"  {err}", file=sys.stderr)
            status = EXIT_INVALID
            continue
        status = max(status, _play(path, lesson))
    return status


def _play(path: Path, lesson: Lesson) -> int:
    print(f"{lesson.title} ({path})")
    status = 0
    began = time.perf_counter()
    for outcome in run_lesson(lesson):
        step, run = outcome.step, outcome.run
        s = run.summary
        print(f"  step {outcome.index + 1}: {step.title}")
        if step.predict is not None:
            print(f"    predict: {step.predict.question.strip()}")
            print(f"    answer: {step.predict.answer_text()}")
        print(f"    run: {s.end:,.0f} s, arrived {s.arrived:,}, mean wait {fmt(s.mean_wait)} s, "
              f"utilization {s.utilization:.1%}")
        for c in outcome.checks:
            print(f"    [{'pass' if c.passed else 'FAIL'}] {c.text()}")
            if not c.passed:
                status = EXIT_FAILED
    print(f"  {'all checks passed' if status == 0 else 'some checks FAILED'} "
          f"({time.perf_counter() - began:.1f} s)")
    return status
