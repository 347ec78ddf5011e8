"""Lesson files are hostile until checked: bad fields are refused with their place in the
file, sizes are bounded, a check is data (a known figure or statistic), never code."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.lessons.files import MAX_LESSON_BYTES, load_lesson
from queuelab.lessons.measure import RunResult, evaluate
from queuelab.lessons.model import MAX_FRAMES, MAX_STEPS, Check, LessonError, Quantity

GOOD = '''
format = 1
title = "A small lesson"

[scenario.mm1]
run = { duration = 300.0, warmup = 0.0, seed = 1 }
arrivals = { rate = 5.0 }
service = { mean = 0.1 }
pool = { strategy = "single" }

[[step]]
title = "Run it"
text = "Some *Markdown*."
scenario = "mm1"
run = true

[step.predict]
question = "How busy?"
choices = ["half", "full"]
answer = 1

[[step.check]]
label = "Utilization"
value = "utilization"
min = 0.4
max = 0.6
'''


def write(tmp_path: Path, text: str, name: str = "lesson.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def refusals(tmp_path: Path, text: str) -> dict[str, str]:
    with pytest.raises(LessonError) as info:
        load_lesson(write(tmp_path, text))
    return {e.path: e.reason for e in info.value.errors}


def test_a_good_lesson_reads_with_its_scenario_and_zero_based_answer(tmp_path: Path) -> None:
    lesson = load_lesson(write(tmp_path, GOOD))
    (step,) = lesson.steps
    assert step.run and step.setup and step.scenario is not None
    assert step.scenario.arrivals.rate == 5.0 and step.scenario.name == "mm1"
    assert step.predict is not None and step.predict.answer == 0
    assert step.predict.answer_text() == "half" and step.predict.judge(0)
    assert step.checks[0].value == Quantity(figure="utilization")


@pytest.mark.parametrize(("old", "new", "path", "words"), [
    ('label = "Utilization"', 'label = "U"\nlimit = 3', "step[0].check[0].limit", "unknown key"),
    ('value = "utilization"', 'value = "__import__(\'os\')"', "step[0].check[0].value",
     "no figure is called"),
    ('value = "utilization"', 'value = "wait_by_level.100"', "step[0].check[0].value",
     "no figure is called"),
    ('value = "utilization"', 'value = "wait_by_level.-1"', "step[0].check[0].value",
     "no figure is called"),
    ('value = "utilization"', 'value = { column = "depth", stat = "median" }',
     "step[0].check[0].value.stat", "unknown statistic 'median'"),
    ('value = "utilization"', 'value = { column = "dept", stat = "mean" }',
     "step[0].check[0].value.column", "no frame column is called 'dept'"),
    ('value = "utilization"', 'value = { column = "depth", stat = "until_below" }',
     "step[0].check[0].value.threshold", "needs a threshold"),
    ('value = "utilization"', 'value = { column = "depth", stat = "max", from = 400 }',
     "step[0].check[0].value.from", "the run ends at 300 s"),
    ("min = 0.4\nmax = 0.6", "unit = \"s\"", "step[0].check[0]", "needs min, max or both"),
    ("min = 0.4", "min = 0.9", "step[0].check[0].min", "is above max"),
    ("min = 0.4", 'min = "low"', "step[0].check[0].min", "must be a number"),
    ("answer = 1", "answer = 3", "step[0].predict.answer", "1 to 2"),
    ('scenario = "mm1"', 'scenario = "nope"', "step[0].scenario", "[scenario.<name>]"),
    ('scenario = "mm1"', 'scenario = "../../etc/passwd.toml"', "step[0].scenario",
     "lesson's own folder"),
    ("run = true", "run = true\nset = { \"arrivals.rat\" = 2 }", "step[0].set.arrivals.rat",
     "no knob is called that"),
    ("run = true", "run = true\nset = { \"arrivals.rate\" = -2 }", "step[0].set.arrivals.rate",
     "must be >= 0"),
    ("run = true", "run = true\nset = { \"run.sample_interval\" = 0.001 }", "step[0].run",
     f"at most {MAX_FRAMES:,}"),
    ("rate = 5.0", "rate = 5.0, colour = 1", "scenario.mm1.arrivals.colour", "unknown key"),
    ("rate = 5.0", "rate = -1.0", "scenario.mm1.arrivals.rate", "must be >= 0"),
    ('title = "Run it"', 'title = 7', "step[0].title", "must be a string"),
    ("format = 1", "format = 2", "format", "must be 1"),
    ("run = true", "run = 1", "step[0].run", "must be true or false"),
])
def test_a_bad_field_is_refused_with_its_place(tmp_path: Path, old: str, new: str, path: str,
                                               words: str) -> None:
    assert old in GOOD
    found = refusals(tmp_path, GOOD.replace(old, new, 1))
    assert path in found, found
    assert words in found[path]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = GOOD.replace('title = "A small lesson"', "title = 3").replace("min = 0.4", "min = x")
    with pytest.raises(LessonError) as info:
        load_lesson(write(tmp_path, text.replace("min = x", 'min = "x"')))
    assert {"title", "step[0].check[0].min"} <= {e.path for e in info.value.errors}


def test_checks_and_predictions_need_a_run(tmp_path: Path) -> None:
    found = refusals(tmp_path, GOOD.replace("run = true", "run = false"))
    assert "needs run = true" in found["step[0].check"]
    assert "needs run = true" in found["step[0].predict"]


def test_a_step_cannot_run_before_any_scenario(tmp_path: Path) -> None:
    found = refusals(tmp_path, GOOD.replace('scenario = "mm1"\n', ""))
    assert "no step so far names a scenario" in found["step[0].run"]


def test_sizes_are_bounded(tmp_path: Path) -> None:
    steps = "".join(f'\n[[step]]\ntitle = "s{i}"\n' for i in range(MAX_STEPS + 1))
    found = refusals(tmp_path, 'format = 1\ntitle = "many"\n' + steps)
    assert f"at most {MAX_STEPS} steps" in found["step"]
    found = refusals(tmp_path, GOOD.replace('text = "Some *Markdown*."',
                                            f'text = "{"x" * 20_001}"'))
    assert "at most 20,000 characters" in found["step[0].text"]
    big = write(tmp_path, GOOD + "#" * MAX_LESSON_BYTES, "big.toml")
    with pytest.raises(LessonError, match="over the limit"):
        load_lesson(big)


def test_a_device_or_a_folder_is_not_read(tmp_path: Path) -> None:
    for path in (Path("/dev/zero"), tmp_path):
        with pytest.raises(LessonError, match="not a regular file"):
            load_lesson(path)


def test_a_scenario_file_beside_the_lesson_is_read_and_checked(tmp_path: Path) -> None:
    write(tmp_path, '[run]\nduration = 300.0\n[arrivals]\nrate = 5.0\n', "beside.toml")
    lesson = load_lesson(write(tmp_path, GOOD.replace('scenario = "mm1"',
                                                      'scenario = "beside.toml"')))
    assert lesson.steps[0].scenario is not None
    assert lesson.steps[0].scenario.arrivals.rate == 5.0
    write(tmp_path, '[arrivals]\nrate = "fast"\n', "beside.toml")
    found = refusals(tmp_path, GOOD.replace('scenario = "mm1"', 'scenario = "beside.toml"'))
    assert "arrivals.rate" in found["step[0].scenario"]


def test_not_toml_is_refused_with_the_line(tmp_path: Path) -> None:
    found = refusals(tmp_path, "format = 1\ntitle = \n")
    assert "not valid TOML" in found["file"] and "line 2" in found["file"]


def test_cli_exit_status_says_invalid_failed_or_passed(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["lesson", "run", str(write(tmp_path, GOOD))]) == 0
    wrong = write(tmp_path, GOOD.replace("min = 0.4\nmax = 0.6", "min = 0.9"), "wrong.toml")
    assert main(["lesson", "run", str(wrong)]) == 1
    assert "[FAIL] Utilization: measured 0.5249 (want at least 0.9)" in capsys.readouterr().out
    bad = write(tmp_path, GOOD.replace("min = 0.4", "min = x"), "bad.toml")
    assert main(["lesson", "run", str(bad)]) == 2
    assert main(["lesson", "run", str(tmp_path / "absent.toml")]) == 2


def _result(**columns: list[float]) -> RunResult:
    from queuelab.core.engine import Totals
    from queuelab.core.metrics import FRAME_COLUMNS, MetricsRecorder

    summary = MetricsRecorder(1.0, 0.0).summary(float(len(columns["t"])))
    cols = {name: columns.get(name, [0.0] * len(columns["t"])) for name in FRAME_COLUMNS}
    return RunResult(summary=summary, books=Totals(0, 0, 0, 0, 0, 0), columns=cols)


def test_frame_statistics_over_a_window() -> None:
    run = _result(t=[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], depth=[0, 60, 70, 40, 5, 8],
                  workers=[9, 9, 10, 10, 9, 10])

    def q(stat: str, **kw: float) -> float:
        column = str(kw.pop("column", "depth"))
        return run.stat(Quantity(column=column, stat=stat, **kw))

    assert q("mean") == pytest.approx(183 / 6)
    assert (q("min", start=1.0, end=4.0), q("max"), q("first"), q("last")) == (40, 70, 0, 8)
    assert q("changes", column="workers") == 3
    assert q("seconds_above", threshold=50) == 2.0
    assert q("until_below", threshold=10, start=2.0) == 3.0  # the frame at t = 5
    assert q("until_below", threshold=-1) == math.inf  # never
    assert math.isnan(q("mean", start=10.0))  # no frame in the window


def test_a_check_passes_only_within_its_range_and_divides_by_per() -> None:
    run = _result(t=[1.0, 2.0], depth=[10, 30], workers=[4, 4])
    ratio = Check(label="r", value=Quantity(column="depth", stat="max"),
                  per=Quantity(column="workers", stat="mean"), minimum=7.0, maximum=8.0)
    assert evaluate(ratio, run).measured == 7.5 and evaluate(ratio, run).passed
    low = Check(label="r", value=ratio.value, per=ratio.per, maximum=7.0)
    assert not evaluate(low, run).passed
    nothing = Check(label="r", value=Quantity(column="depth", stat="max", start=5.0),
                    minimum=0.0)
    result = evaluate(nothing, run)
    assert not result.passed and "nothing to measure" in result.text()
