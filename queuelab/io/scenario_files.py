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
import itertools
import random
from dataclasses import replace
from pathlib import Path

from queuelab.core import scenario_toml
from queuelab.core.arrivals import spread_counts
from queuelab.core.scenario import Scenario
from queuelab.core.validation import FieldError, ScenarioError, validate

MAX_TRACE_ROWS = 5_000_000


def read_times_csv(path: Path, knob: str) -> tuple[float, ...]:
    """Numbers from the first column of a CSV (a header row is skipped), or ScenarioError."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            values: list[float] = []
            for lineno, row in enumerate(rows, 1):
                if not row or not row[0].strip() or row[0].lstrip().startswith("#"):
                    continue
                try:
                    values.append(float(row[0]))
                except ValueError:
                    if lineno == 1:
                        continue  # a header
                    raise ScenarioError(FieldError(
                        knob, f"{path}: line {lineno}: not a number: {row[0]!r}")) from None
                if len(values) > MAX_TRACE_ROWS:
                    raise ScenarioError(FieldError(knob, f"{path}: more than "
                                                   f"{MAX_TRACE_ROWS:,} rows"))
    except OSError as exc:
        raise ScenarioError(FieldError(knob, f"cannot read {str(path)!r}: "
                                       f"{exc.strerror or exc}")) from None
    except UnicodeDecodeError:
        raise ScenarioError(FieldError(knob, f"{path}: not a text CSV file")) from None
    return tuple(values)


COUNT_COLUMNS = ("start", "end", "count")


def read_trace_csv(path: Path, knob: str, seed: int) -> tuple[float, ...]:
    """Arrival times from a trace file of either kind (see the module), or ScenarioError."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            head = next((r for r in csv.reader(fh) if r and not r[0].lstrip().startswith("#")),
                        [])
    except (OSError, UnicodeDecodeError):
        return read_times_csv(path, knob)  # which says what is wrong with the file
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
    with path.open(newline="", encoding="utf-8") as fh:
        for lineno, row in enumerate(csv.reader(fh), 1):
            if not row or row[0].lstrip().startswith("#") or lineno == 1 or row == head:
                continue
            try:
                start, end, n = (float(row[i]) for i in where)
            except (ValueError, IndexError):
                raise ScenarioError(FieldError(knob, f"{path}: line {lineno}: want numbers "
                                               f"for start, end, count: {row!r}")) from None
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
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(FieldError("file", f"cannot read {str(p)!r}: "
                                       f"{exc.strerror or exc}")) from None
    except UnicodeDecodeError:
        raise ScenarioError(FieldError("file", f"{p}: not a UTF-8 text file")) from None
    return resolve_data(scenario_toml.loads(text, require_data=False), p.parent)


def save_scenario(path: str | Path, scenario: Scenario) -> None:
    """Write a scenario as commented TOML (no password is ever written)."""
    p = Path(path)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(scenario_toml.dumps(scenario), encoding="utf-8")
    tmp.replace(p)
