"""Scenario files on disk: TOML in, TOML out, and the CSV traces a scenario names.

A trace is either arrival times (the first column, one row per arrival) or counts per
interval: a header naming `start`, `end` and `count` (seconds from the trace's start),
one row per interval, as `queuelab monitor export-trace` writes it. Counts are spread as a
Poisson process inside each interval (`core.arrivals.spread_counts`), with the scenario's
seed: the same file and seed give the same arrivals.

The pure codec lives in `core.scenario_toml`; this module adds only what touches the
file system: reading the file, resolving trace paths relative to it and loading them,
so that an unreadable trace is refused like any other bad value, with its path.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from queuelab.core import limits, scenario_toml
from queuelab.core.arrivals import spread_counts
from queuelab.core.scenario import Scenario
from queuelab.core.validation import FieldError, ScenarioError, validate
from queuelab.io.bounded import FileRefused, read_text

MAX_TRACE_ROWS = limits.MAX_DATA_ROWS


def _rows(path: Path, knob: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of a data CSV, comments and blank rows skipped; every way the
    file or its content can be bad becomes ScenarioError naming the file and line."""
    try:
        text = read_text(path, limits.MAX_DATA_BYTES)
    except FileRefused as exc:
        raise ScenarioError(FieldError(knob, str(exc))) from None
    reader = csv.reader(io.StringIO(text, newline=""))
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # a field over the csv module's limit, a NUL byte ...
            raise ScenarioError(FieldError(knob, f"{path}: line {reader.line_num}: not a "
                                           f"CSV row ({exc})")) from None
        if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
            continue
        yield reader.line_num, row


def _time(path: Path, knob: str, lineno: int, text: str, what: str) -> float:
    """A finite time >= 0 from one field, or ScenarioError saying what is wrong with it."""
    try:
        x = float(text)
    except ValueError:
        raise ScenarioError(FieldError(knob, f"{path}: line {lineno}: not a number: "
                                       f"{text[:40]!r}")) from None
    if not math.isfinite(x) or x < 0 or x > limits.MAX_SECONDS:
        raise ScenarioError(FieldError(knob, f"{path}: line {lineno}: {what} must be a "
                                       f"number of seconds from 0 to {limits.MAX_SECONDS:g} "
                                       f"(got {text[:40]})"))
    return x


def read_times_csv(path: Path, knob: str) -> tuple[float, ...]:
    """Numbers from the first column of a CSV (a header row is skipped), or ScenarioError:
    times are seconds >= 0, so a negative one is an error in the file, never dropped."""
    values: list[float] = []
    what = "an arrival time" if knob == "arrivals.trace" else "a service time"
    for n, (lineno, row) in enumerate(_rows(path, knob)):
        if n == 0:
            try:
                float(row[0])
            except ValueError:
                continue  # a header
        values.append(_time(path, knob, lineno, row[0], what))
        if len(values) > MAX_TRACE_ROWS:
            raise ScenarioError(FieldError(knob, f"{path}: more than "
                                           f"{MAX_TRACE_ROWS:,} rows"))
    return tuple(values)


COUNT_COLUMNS = ("start", "end", "count")


def read_trace_csv(path: Path, knob: str, seed: int) -> tuple[float, ...]:
    """Arrival times from a trace file of either kind (see the module), or ScenarioError."""
    rows_in = _rows(path, knob)
    head = next(rows_in, (0, []))[1]
    names = [h.strip().lower() for h in head]
    if "count" not in names:
        return read_times_csv(path, knob)
    missing = [c for c in COUNT_COLUMNS if c not in names]
    if missing:
        raise ScenarioError(FieldError(knob, f"{path}: a trace of counts needs the columns "
                                       f"start, end, count (missing: {', '.join(missing)})"))
    where = [names.index(c) for c in COUNT_COLUMNS]
    rows: list[tuple[float, float, int]] = []
    total = 0
    for lineno, row in rows_in:
        if row == head:
            continue
        try:
            fields = [row[i] for i in where]
            n = float(fields[2])
        except (ValueError, IndexError):
            raise ScenarioError(FieldError(knob, f"{path}: line {lineno}: want numbers "
                                           f"for start, end, count: {row[:3]!r}")) from None
        start = _time(path, knob, lineno, fields[0], "start")
        end = _time(path, knob, lineno, fields[1], "end")
        if not (end > start and n >= 0 and n == int(n)):
            raise ScenarioError(FieldError(knob, f"{path}: line {lineno}: an interval "
                                           "needs end > start and a whole count >= 0"))
        total += int(n)
        if total > MAX_TRACE_ROWS:
            raise ScenarioError(FieldError(knob, f"{path}: more than "
                                           f"{MAX_TRACE_ROWS:,} arrivals"))
        rows.append((start, end, int(n)))
    return spread_counts(rows, random.Random(seed))


def resolve_data(scenario: Scenario, base: Path | None) -> Scenario:
    """Load the trace and samples files a scenario names (relative paths from `base`)."""
    errors: list[FieldError] = []
    arrivals, service = scenario.arrivals, scenario.service

    def load(name: str, knob: str) -> tuple[float, ...]:
        p = Path(name).expanduser()
        if not p.is_absolute() and base is not None:
            p = base / p
        try:
            if knob == "arrivals.trace":
                return read_trace_csv(p, knob, scenario.run.seed)
            return read_times_csv(p, knob)
        except ScenarioError as exc:
            errors.extend(exc.errors)
            return ()

    if arrivals.process == "trace" and arrivals.trace:
        times = load(arrivals.trace, "arrivals.trace")
        if any(b < a for a, b in itertools.pairwise(times)):
            times = tuple(sorted(times))
        arrivals = replace(arrivals, trace_times=times)
    if service.distribution == "empirical" and service.path:
        service = replace(service, samples=load(service.path, "service.path"))
    if errors:
        raise ScenarioError(errors)
    return validate(replace(scenario, arrivals=arrivals, service=service))


def load_scenario(path: str | Path) -> Scenario:
    """Read, validate and complete a scenario file; ScenarioError names every problem."""
    p = Path(path)
    try:
        text = read_text(p, limits.MAX_SCENARIO_BYTES)
    except FileRefused as exc:
        raise ScenarioError(FieldError("file", str(exc))) from None
    return resolve_data(scenario_toml.loads(text, require_data=False), p.parent)


def save_scenario(path: str | Path, scenario: Scenario) -> None:
    """Write a scenario as commented TOML (no password is ever written)."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(scenario_toml.dumps(scenario), encoding="utf-8")
    tmp.replace(p)
