"""A sweep's output folder: runs.csv, points.csv and frontier.csv as CSV, sweep.json.

Rows are written as results arrive and flushed, so a sweep's memory does not grow with its
size and an interrupted sweep keeps every finished run. Numbers are written as Python's
shortest round-trip text (`repr`), NaN as an empty cell: the same run gives the same bytes
on any machine, and reading a row back (to resume) gives the very same values.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from queuelab.core.scenario import KNOBS
from queuelab.tuning.runner import FIGURES
from queuelab.tuning.spec import Sweep
from queuelab.tuning.stats import PointStats, meets
from queuelab.tuning.sweep import STATUSES, RunRecord

MAX_ROWS = 10_000_000  # a runs.csv read back to resume; a bigger one is not ours


def cell(value: Any) -> str:
    """One CSV cell: shortest round-trip numbers, NaN and None empty."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return str(value)


def run_columns(sweep: Sweep) -> list[str]:
    return ["point", "seed", "status", "reason", *sweep.paths, *FIGURES]


def point_columns(sweep: Sweep) -> list[str]:
    cols = ["point", "status", "runs", "meets_objective", *sweep.paths]
    for f in FIGURES:
        cols += [f, f"{f}_ci95"]
    return [*cols, "reason"]


class CsvOut:
    """A CSV file written row by row, each row flushed (an interrupted sweep keeps it)."""

    def __init__(self, path: Path, columns: Sequence[str]) -> None:
        self.path = path
        self._fh: IO[str] = path.open("w", newline="", encoding="utf-8")
        self._writer = csv.writer(self._fh, lineterminator="\n")
        self._writer.writerow(columns)

    def write(self, row: Sequence[Any]) -> None:
        self._writer.writerow([cell(v) for v in row])
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


def run_row(record: RunRecord) -> list[Any]:
    figures = [record.figures.get(f) for f in FIGURES] if record.status == "ok" else [
        None] * len(FIGURES)
    return [record.point, record.seed, record.status, record.reason, *record.values, *figures]


def point_row(sweep: Sweep, p: PointStats) -> list[Any]:
    row: list[Any] = [p.number, p.status, p.runs,
                      meets(p, sweep.objective.metric, sweep.objective.limit), *p.values]
    for f in FIGURES:
        e = p.get(f)
        row += [e.mean, e.half_width]
    return [*row, p.reason]


def write_points(path: Path, sweep: Sweep, points: Sequence[PointStats]) -> None:
    out = CsvOut(path, point_columns(sweep))
    try:
        for p in points:
            out.write(point_row(sweep, p))
    finally:
        out.close()


def _number(text: str) -> float | int:
    if text == "":
        return math.nan
    if any(c in text for c in ".eEn"):  # repr of a float always holds one of these
        return float(text)
    return int(text)


def _knob_value(kind: type, text: str) -> Any:
    if kind is bool:
        return text == "true"
    return text if kind is str else kind(text)


def read_runs(path: Path, sweep: Sweep) -> Iterator[RunRecord]:
    """The records of an earlier runs.csv of this very sweep (ValueError if it is not one)."""
    with path.open(newline="", encoding="utf-8") as fh:
        rows = csv.reader(fh)
        header = next(rows, None)
        if header != run_columns(sweep):
            raise ValueError(f"{path}: its columns are not this sweep's")
        kinds = [KNOBS[p].kind for p in sweep.paths]
        n_axes = len(kinds)
        for lineno, row in enumerate(rows, 2):
            if lineno > MAX_ROWS:
                raise ValueError(f"{path}: more than {MAX_ROWS:,} rows")
            if len(row) != len(header) or row[2] not in STATUSES:
                raise ValueError(f"{path}: line {lineno} is not a run of this sweep")
            try:
                values = tuple(_knob_value(kind, text)
                               for kind, text in zip(kinds, row[4:4 + n_axes], strict=True))
                figures = ({f: _number(t) for f, t in zip(FIGURES, row[4 + n_axes:],
                                                          strict=True)}
                           if row[2] == "ok" else {})
                yield RunRecord(int(row[0]), int(row[1]), values, row[2], row[3], figures)
            except ValueError:
                raise ValueError(f"{path}: line {lineno} holds a value that is not a number"
                                 ) from None


class SweepFolder:
    """Writes a sweep's folder as records arrive: runs.csv and points.csv row by row.

    Only each point's cost and objective estimates stay in memory (for the frontier);
    `close` writes frontier.csv. runs.csv is written as runs.csv.part and moved into place
    at the close, so that a resumed sweep reads the old file while it writes the new one.
    """

    def __init__(self, folder: Path, sweep: Sweep) -> None:
        self.folder = folder
        self.sweep = sweep
        folder.mkdir(parents=True, exist_ok=True)
        self._runs = CsvOut(folder / "runs.csv.part", run_columns(sweep))
        self._points = CsvOut(folder / "points.csv", point_columns(sweep))
        self._group: list[RunRecord] = []
        self.points: list[PointStats] = []  # slim: cost and the objective only
        self.counts = {s: 0 for s in STATUSES}
        self.tasks = 0  # tasks simulated by the runs written

    def add(self, record: RunRecord) -> PointStats | None:
        """Write one run; returns its point's statistics when it was the point's last run."""
        self._runs.write(run_row(record))
        self.counts[record.status] += 1
        if record.status == "ok":
            self.tasks += int(record.figures.get("arrived", 0))
        if self._group and self._group[0].point != record.point:
            self._close_point()
        self._group.append(record)
        if len(self._group) == self.sweep.replications:
            return self._close_point()
        return None

    def _close_point(self) -> PointStats:
        from queuelab.tuning.stats import point_stats

        g = self._group
        p = point_stats(g[0].point, g[0].values, g, FIGURES)
        self._points.write(point_row(self.sweep, p))
        keep = ("cost", self.sweep.objective.metric)
        self.points.append(PointStats(p.number, p.values, p.status, p.reason, p.runs,
                                      {k: p.figures[k] for k in keep}))
        self._group = []
        return p

    def close(self) -> list[PointStats]:
        """Finish the files (a point cut short is written with the runs it has); the frontier."""
        from queuelab.tuning.frontier import frontier

        if self._group:
            self._close_point()
        self._runs.close()
        self._points.close()
        (self.folder / "runs.csv.part").replace(self.folder / "runs.csv")
        front = frontier(self.points, self.sweep.objective.metric)
        full = {p.number for p in front}
        # frontier.csv repeats the points.csv rows of the frontier's points, cheapest first
        rows: dict[int, list[str]] = {}
        with (self.folder / "points.csv").open(newline="", encoding="utf-8") as fh:
            reader = csv.reader(fh)
            header = next(reader)
            for row in reader:
                if int(row[0]) in full:
                    rows[int(row[0])] = row
        with (self.folder / "frontier.csv").open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(header)
            for p in front:
                w.writerow(rows[p.number])
        return front
