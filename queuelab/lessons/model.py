"""A lesson as data: steps that explain, set up a run, ask for a prediction, run, and check.

A lesson file is someone else's file until it has been checked, like a scenario: every
field is validated here and every refusal names its place (`step[2].check[0].value.stat:
...`), the sizes are bounded (`LIMITS`), and nothing in it is code: a check is a figure of
the run (or a statistic of a frame column over a time window), optionally divided by
another, that must fall within `min`/`max`. The scenarios a lesson runs are ordinary
scenario files, read by the caller (`lessons.files`) and handed in through `load_scenario`,
so this module touches no file system and can be tested on dicts.

The format is documented in docs/lessons.md.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

from queuelab.core.engine import Totals
from queuelab.core.limits import MAX_PRIORITY_LEVELS
from queuelab.core.metrics import FRAME_COLUMNS, RunSummary
from queuelab.core.scenario import KNOBS, Scenario
from queuelab.core.validation import FieldError, ScenarioError, coerce, validate

FORMAT = 1

MAX_STEPS = 40
MAX_CHECKS = 20  # per step
MAX_CHOICES = 8
MAX_TEXT = 20_000  # characters of Markdown per text field
MAX_LABEL = 200  # characters of a title, label, choice or unit
MAX_SETS = 40  # knob changes per step
MAX_FRAMES = 86_400
"""Frames one lesson run may produce (duration / sample interval): the headless runner and
the window keep every frame of a lesson run to check it, so this bounds their memory, and
the window's history (gui/history.py) holds this many exactly."""

STATS = ("mean", "min", "max", "first", "last", "changes", "seconds_above", "until_below")
"""What a check can say about a frame column over [from, to]: the mean, minimum, maximum,
first or last value, how many times the value changed from one frame to the next, the
seconds spent above `threshold`, and the seconds from `from` until the column first fell
to `threshold` or below (infinite if it never did)."""
THRESHOLD_STATS = ("seconds_above", "until_below")

SUMMARY_FIGURES = tuple(f.name for f in fields(RunSummary)
                        if f.name not in ("extras", "start", "end"))
ENGINE_FIGURES = ("waiting", "in_flight", "retrying", "p_wait", "final_workers", "client_timeouts",
                  "client_retries", "gave_up", "budget_denied", "wasted_done", "wasted_work")
"""Figures the simulator attaches to its summary (not its wall time: not reproducible); the
clients' figures only with `[clients]` (NaN, and a failed check, without)."""
DERIVED_FIGURES = ("arrival_rate", "admitted_rate", "lambda_w")
"""Computed from the run (`lessons.measure`): arrivals per second of the measured window,
the part of them admitted (not rejected by max_length), and admitted rate × mean wait,
Little's law's prediction of the mean queue length."""
BOOKS = tuple(f"books.{f.name}" for f in fields(Totals))
FIGURES = SUMMARY_FIGURES + ENGINE_FIGURES + DERIVED_FIGURES + BOOKS
LEVEL_FIGURE = "wait_by_level."
"""`wait_by_level.<k>`: the mean wait of priority level k (0 the lowest; the simulator's
per-level figure under the priority discipline, NaN without it)."""


def is_figure(name: str) -> bool:
    """Whether a check may name this figure (`FIGURES`, or a priority level's mean wait)."""
    if name in FIGURES:
        return True
    level = name.removeprefix(LEVEL_FIGURE)
    return (name.startswith(LEVEL_FIGURE) and level.isascii() and level.isdigit()
            and int(level) < MAX_PRIORITY_LEVELS)


class LessonError(ScenarioError):
    """A lesson that cannot be used; lists every problem found (FieldErrors), each with its
    place in the lesson file. A ScenarioError, so a scenario's refusal reads the same."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number read from a finished run: a figure, or a statistic of a frame column."""

    figure: str = ""
    column: str = ""
    stat: str = ""
    start: float = 0.0  # `from` in the file
    end: float = math.inf  # `to` in the file; inf: the end of the run
    threshold: float = math.nan

    def describe(self) -> str:
        if self.figure:
            return self.figure
        window = f"{self.start:g}-{'end' if math.isinf(self.end) else f'{self.end:g}'} s"
        extra = "" if math.isnan(self.threshold) else f" {self.threshold:g}"
        return f"{self.stat}{extra} of {self.column} over {window}"


@dataclass(frozen=True, slots=True)
class Check:
    """`value` (divided by `per`, if given) must lie within [minimum, maximum]."""

    label: str
    value: Quantity
    per: Quantity | None = None
    minimum: float = -math.inf
    maximum: float = math.inf
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Predict:
    """A question asked before the run; the answer is shown after it.

    With `choices`, `answer` is the index (from 0) of the right one; without, `answer` is a
    number and a guess within `within` (relative) of it counts as right.
    """

    question: str
    answer: float
    choices: tuple[str, ...] = ()
    unit: str = ""
    within: float = 0.2
    reveal: str = ""

    def judge(self, guess: float) -> bool:
        """Whether a guess (a choice's index, or a number) is right."""
        if self.choices:
            return int(guess) == int(self.answer)
        return abs(guess - self.answer) <= self.within * abs(self.answer)

    def answer_text(self) -> str:
        if self.choices:
            return self.choices[int(self.answer)]
        return f"{self.answer:g}{' ' + self.unit if self.unit else ''}"


@dataclass(frozen=True, slots=True)
class Step:
    """One screen of a lesson. `scenario` is the scenario in force at this step (after its
    own file and knob changes, None before any step set one); `setup` says whether this
    step changed it, so the window loads it only then."""

    title: str
    text: str = ""
    scenario: Scenario | None = None
    setup: bool = False
    run: bool = False
    predict: Predict | None = None
    checks: tuple[Check, ...] = ()


@dataclass(frozen=True, slots=True)
class Lesson:
    title: str
    summary: str
    steps: tuple[Step, ...]


ScenarioLoader = Callable[[str], Scenario]
"""The scenario a step names: one of the lesson's own `[scenario.<name>]` tables, or a
scenario file beside the lesson; raises ScenarioError / LessonError saying why not."""

_TOP_KEYS = ("format", "title", "summary", "scenario", "step")
_STEP_KEYS = ("title", "text", "scenario", "set", "run", "predict", "check")
_PREDICT_KEYS = ("question", "choices", "answer", "unit", "within", "reveal")
_CHECK_KEYS = ("label", "value", "per", "min", "max", "unit")
_QUANTITY_KEYS = ("column", "stat", "from", "to", "threshold")


class _Errors:
    """Collects FieldErrors; the readers below report every problem, not the first."""

    def __init__(self) -> None:
        self.items: list[FieldError] = []

    def add(self, path: str, reason: str) -> None:
        self.items.append(FieldError(path, reason))

    def unknown(self, where: str, table: dict[str, Any], known: tuple[str, ...]) -> None:
        for key in table:
            if key not in known:
                self.add(f"{where}.{key}" if where else key,
                         f"unknown key (known: {', '.join(known)})")

    def text(self, where: str, value: Any, *, limit: int = MAX_TEXT,
             required: bool = False) -> str:
        if value is None:
            if required:
                self.add(where, "missing (a string is needed)")
            return ""
        if not isinstance(value, str):
            self.add(where, f"must be a string (got {_show(value)})")
            return ""
        if len(value) > limit:
            self.add(where, f"at most {limit:,} characters (got {len(value):,})")
            return ""
        if required and not value.strip():
            self.add(where, "must not be empty")
        return value

    def number(self, where: str, value: Any) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.add(where, f"must be a number (got {_show(value)})")
            return None
        x = float(value)
        if not math.isfinite(x):
            self.add(where, f"must be a finite number (got {value!r})")
            return None
        return x


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def from_dict(data: dict[str, Any], load_scenario: ScenarioLoader) -> Lesson:
    """Build and check a lesson from parsed TOML; LessonError lists every problem."""
    err = _Errors()
    err.unknown("", data, _TOP_KEYS)
    if data.get("format") != FORMAT:
        err.add("format", f"must be {FORMAT} (got {_show(data.get('format'))})")
    title = err.text("title", data.get("title"), limit=MAX_LABEL, required=True)
    summary = err.text("summary", data.get("summary"), limit=MAX_TEXT)
    raw_steps = data.get("step")
    steps: list[Step] = []
    if not isinstance(raw_steps, list) or not raw_steps:
        err.add("step", "a lesson needs at least one [[step]]")
    elif len(raw_steps) > MAX_STEPS:
        err.add("step", f"at most {MAX_STEPS} steps (got {len(raw_steps)})")
    else:
        current: Scenario | None = None
        for i, raw in enumerate(raw_steps):
            step = _step(f"step[{i}]", raw, current, load_scenario, err)
            if step.scenario is not None:
                current = step.scenario
            steps.append(step)
    if err.items:
        raise LessonError(err.items)
    return Lesson(title=title, summary=summary, steps=tuple(steps))


def _step(where: str, raw: Any, current: Scenario | None, load_scenario: ScenarioLoader,
          err: _Errors) -> Step:
    if not isinstance(raw, dict):
        err.add(where, "must be a table ([[step]])")
        return Step(title="")
    err.unknown(where, raw, _STEP_KEYS)
    title = err.text(f"{where}.title", raw.get("title"), limit=MAX_LABEL, required=True)
    text = err.text(f"{where}.text", raw.get("text"))
    scenario = current
    setup = False
    if "scenario" in raw:
        name = err.text(f"{where}.scenario", raw["scenario"], limit=MAX_LABEL, required=True)
        if name:
            try:
                scenario = load_scenario(name)
                setup = True
            except (ScenarioError, LessonError) as exc:
                for e in exc.errors:
                    err.add(f"{where}.scenario", f"{name}: {e}")
                scenario = None
    if "set" in raw:
        scenario = _changes(f"{where}.set", raw["set"], scenario, err)
        setup = True
    run = raw.get("run", False)
    if not isinstance(run, bool):
        err.add(f"{where}.run", f"must be true or false (got {_show(run)})")
        run = False
    if run and scenario is None:
        err.add(f"{where}.run", "nothing to run: no step so far names a scenario")
    if run and scenario is not None:
        frames = scenario.run.duration / scenario.run.sample_interval
        if frames > MAX_FRAMES:
            err.add(f"{where}.run", f"the run would make {frames:,.0f} frames; a lesson run "
                    f"may make at most {MAX_FRAMES:,} (shorten run.duration or lengthen "
                    "run.sample_interval)")
    predict = _predict(f"{where}.predict", raw["predict"], err) if "predict" in raw else None
    if predict is not None and not run:
        err.add(f"{where}.predict", "a prediction is answered by a run: this step needs "
                "run = true")
    checks: list[Check] = []
    if "check" in raw:
        raw_checks = raw["check"]
        if not isinstance(raw_checks, list):
            err.add(f"{where}.check", "must be a list of tables ([[step.check]])")
        elif len(raw_checks) > MAX_CHECKS:
            err.add(f"{where}.check", f"at most {MAX_CHECKS} checks (got {len(raw_checks)})")
        else:
            if raw_checks and not run:
                err.add(f"{where}.check", "checks read a run: this step needs run = true")
            end = scenario.run.duration if scenario is not None else math.inf
            for j, rc in enumerate(raw_checks):
                c = _check(f"{where}.check[{j}]", rc, end, err)
                if c is not None:
                    checks.append(c)
    return Step(title=title, text=text, scenario=scenario, setup=setup, run=run,
                predict=predict, checks=tuple(checks))


def _changes(where: str, raw: Any, scenario: Scenario | None, err: _Errors) -> Scenario | None:
    """The scenario with a step's knob changes, each checked as a change in the form is."""
    if not isinstance(raw, dict):
        err.add(where, 'must be a table of knob = value (set = { "arrivals.rate" = 9.0 })')
        return scenario
    if scenario is None:
        err.add(where, "no scenario to change: name one in this or an earlier step")
        return None
    if len(raw) > MAX_SETS:
        err.add(where, f"at most {MAX_SETS} changes (got {len(raw)})")
        return scenario
    if any(isinstance(v, dict) for v in raw.values()):
        err.add(where, 'write each knob as one quoted path: "arrivals.rate" = 9.0')
        return scenario
    changed = scenario
    for path, value in raw.items():
        info = KNOBS.get(path)
        if info is None or not info.knob.in_file:
            err.add(f"{where}.{path}", "no knob is called that (give a path such as "
                    "arrivals.rate)")
            continue
        try:
            value = coerce(info, value)
        except ScenarioError as exc:
            err.add(f"{where}.{path}", exc.errors[0].reason)
            continue
        section = getattr(changed, info.section)
        changed = replace(changed, **{info.section: replace(section, **{info.name: value})})
    try:  # all the changes at once: they may depend on each other (duration and warm-up)
        return validate(changed)
    except ScenarioError as exc:
        for e in exc.errors:
            err.add(f"{where}.{e.path}" if e.path in raw else where, str(e) if e.path not in
                    raw else e.reason)
        return scenario


def _predict(where: str, raw: Any, err: _Errors) -> Predict | None:
    if not isinstance(raw, dict):
        err.add(where, "must be a table ([step.predict])")
        return None
    err.unknown(where, raw, _PREDICT_KEYS)
    question = err.text(f"{where}.question", raw.get("question"), required=True)
    reveal = err.text(f"{where}.reveal", raw.get("reveal"))
    unit = err.text(f"{where}.unit", raw.get("unit"), limit=MAX_LABEL)
    choices: tuple[str, ...] = ()
    if "choices" in raw:
        rc = raw["choices"]
        if not isinstance(rc, list) or not 2 <= len(rc) <= MAX_CHOICES:
            err.add(f"{where}.choices", f"must be a list of 2 to {MAX_CHOICES} strings")
        else:
            choices = tuple(err.text(f"{where}.choices[{k}]", c, limit=MAX_LABEL,
                                     required=True) for k, c in enumerate(rc))
    if "answer" not in raw:
        err.add(f"{where}.answer", "missing: the right choice (counted from 1) or the number")
        return None
    answer = err.number(f"{where}.answer", raw["answer"])
    if answer is None:
        return None
    if choices:
        if answer != int(answer) or not 1 <= answer <= len(choices):
            err.add(f"{where}.answer", f"must be the number of the right choice, 1 to "
                    f"{len(choices)} (got {raw['answer']!r})")
            return None
        answer = answer - 1
    within = 0.2
    if "within" in raw:
        w = err.number(f"{where}.within", raw["within"])
        if w is not None and not 0.0 < w <= 1.0:
            err.add(f"{where}.within", f"must be a share in (0, 1] (got {w:g})")
        elif w is not None:
            within = w
    return Predict(question=question, answer=answer, choices=choices, unit=unit,
                   within=within, reveal=reveal)


def _check(where: str, raw: Any, end: float, err: _Errors) -> Check | None:
    if not isinstance(raw, dict):
        err.add(where, "must be a table ([[step.check]])")
        return None
    bad = len(err.items)
    err.unknown(where, raw, _CHECK_KEYS)
    label = err.text(f"{where}.label", raw.get("label"), limit=MAX_LABEL, required=True)
    unit = err.text(f"{where}.unit", raw.get("unit"), limit=MAX_LABEL)
    if "value" not in raw:
        err.add(f"{where}.value", "missing: a figure name or a { column, stat } table")
        return None
    value = _quantity(f"{where}.value", raw["value"], end, err)
    per = _quantity(f"{where}.per", raw["per"], end, err) if "per" in raw else None
    lo = err.number(f"{where}.min", raw["min"]) if "min" in raw else -math.inf
    hi = err.number(f"{where}.max", raw["max"]) if "max" in raw else math.inf
    if "min" not in raw and "max" not in raw:
        err.add(where, "needs min, max or both: the range the value must fall in")
    elif lo is not None and hi is not None and lo > hi:
        err.add(f"{where}.min", f"is above max ({lo:g} > {hi:g})")
    if len(err.items) > bad or value is None or lo is None or hi is None:
        return None
    return Check(label=label, value=value, per=per, minimum=lo, maximum=hi, unit=unit)


def _quantity(where: str, raw: Any, end: float, err: _Errors) -> Quantity | None:
    if isinstance(raw, str):
        if is_figure(raw):
            return Quantity(figure=raw)
        err.add(where, f"no figure is called {_show(raw)} (known: {', '.join(FIGURES)}, "
                f"{LEVEL_FIGURE}<k>; or a table {{ column, stat, from, to }} over the frames)")
        return None
    if not isinstance(raw, dict):
        err.add(where, f"must be a figure name or a table {{ column, stat }} (got {_show(raw)})")
        return None
    bad = len(err.items)
    err.unknown(where, raw, _QUANTITY_KEYS)
    column = raw.get("column")
    if column not in FRAME_COLUMNS:
        err.add(f"{where}.column", f"no frame column is called {_show(column)} (known: "
                f"{', '.join(FRAME_COLUMNS)})")
    stat = raw.get("stat")
    if stat not in STATS:
        err.add(f"{where}.stat", f"unknown statistic {_show(stat)} (known: {', '.join(STATS)})")
    start = err.number(f"{where}.from", raw["from"]) if "from" in raw else 0.0
    stop = err.number(f"{where}.to", raw["to"]) if "to" in raw else math.inf
    threshold = math.nan
    if stat in THRESHOLD_STATS:
        if "threshold" not in raw:
            err.add(f"{where}.threshold", f"{stat} needs a threshold")
        else:
            threshold = err.number(f"{where}.threshold", raw["threshold"]) or 0.0
    elif "threshold" in raw:
        err.add(f"{where}.threshold", f"only {' and '.join(THRESHOLD_STATS)} take a threshold")
    if start is not None and stop is not None:
        if start < 0 or start >= stop:
            err.add(f"{where}.from", f"must be >= 0 and before to (got from {start:g}, "
                    f"to {stop:g})")
        elif start >= end:
            err.add(f"{where}.from", f"the run ends at {end:g} s (got {start:g})")
    if len(err.items) > bad or start is None or stop is None:
        return None
    return Quantity(column=str(column), stat=str(stat), start=start, end=stop,
                    threshold=threshold)

