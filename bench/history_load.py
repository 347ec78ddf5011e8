"""How fast a month of a monitored queue's history opens, beside reading the same samples
from a CSV file.

    .venv/bin/python bench/history_load.py [--days 30] [--interval 5] [--points 2000]

Builds a history file of `days` of samples every `interval` seconds (not timed), then times
three loads of the whole range and, side by side, the same rows read back from the CSV the
store exports (Python's csv module into float lists: the plain way to keep a history):

* `plot`: what the window asks when a month is picked: SQLite folds it into `points`
  buckets (levels' maximum, rates' mean) in one aggregate query;
* `raw`: every row of the month into numpy arrays (the export path);
* `kept`: the same month after the store's retention pruning (older than a day folded to
  1-minute rows, older than a week to 10-minute rows), all rows loaded: what reopening a
  source that has been watched for a month costs.

The goal is the plot load of a month under 1 s; the ratio column is csv / store.
Each figure is the best of `repeat` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import csv
import math
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from queuelab.io.history import COLUMNS, HistoryStore

GOAL = 1.0


def month_rows(days: float, interval: float, end: float) -> list[tuple[float | int | None, ...]]:
    rng = random.Random(1)
    n = int(days * 86400 / interval)
    rows: list[tuple[float | int | None, ...]] = []
    ready = 50.0
    done = 0.0
    for k in range(n):
        t = end - (n - k) * interval
        arrival = 4.0 + 3.0 * math.sin(2 * math.pi * t / 86400)
        ready = max(0.0, ready + rng.gauss(0, 3))
        done += 4.0 * interval
        if k % 5000 == 17:  # an outage now and then
            rows.append((t, 0.0, *[None] * 9, 0))
            continue
        rows.append((t, 0.0, round(ready), rng.randint(0, 8), rng.randint(0, 3), 0, 8,
                     arrival, 4.0, None, done, 1))
    return rows


def best(repeat: int, fn: Callable[[], object]) -> tuple[float, object]:
    times = []
    out: object = None
    for _ in range(repeat):
        began = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - began)
    return min(times), out


def read_csv(path: Path) -> dict[str, list[float]]:
    cols: dict[str, list[float]] = {c: [] for c in COLUMNS}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            for c, v in zip(COLUMNS, row[1:], strict=True):
                cols[c].append(float(v) if v else math.nan)
    return cols


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--days", type=float, default=30.0)
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("--points", type=int, default=2000)
    p.add_argument("--repeat", type=int, default=3)
    ns = p.parse_args()
    end = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = month_rows(ns.days, ns.interval, end)
        raw = HistoryStore(folder / "raw.sqlite", retention_days=ns.days + 1, tiers=())
        raw.add_rows(rows)
        start = rows[0][0]
        assert isinstance(start, float)
        csv_path = folder / "month.csv"
        raw.export_csv(csv_path)
        kept = HistoryStore(folder / "kept.sqlite", retention_days=ns.days + 1)
        kept.add_rows(rows)
        kept.prune(end)
        size_raw = (folder / "raw.sqlite").stat().st_size
        print(f"{len(rows):,} samples ({ns.days:g} days every {ns.interval:g} s); file "
              f"{size_raw / 1e6:.1f} MB; kept after pruning: {kept.count():,} rows")
        t_csv, from_csv = best(ns.repeat, lambda: read_csv(csv_path))
        assert isinstance(from_csv, dict) and len(from_csv["t"]) == len(rows)
        cases = [
            ("plot", lambda: raw.load(start, end + 1, max_points=ns.points)),
            ("raw", lambda: raw.load(start, end + 1)),
            ("kept", lambda: kept.load(start, end + 1)),
        ]
        print(f"{'load':6} {'rows':>9} {'store s':>9} {'csv s':>9} {'ratio':>7}  goal")
        for name, fn in cases:
            took, data = best(ns.repeat, fn)
            assert isinstance(data, dict)
            n = len(data["t"])
            verdict = "" if name != "plot" else ("met" if took < GOAL else "MISSED")
            print(f"{name:6} {n:>9,} {took:>9.3f} {t_csv:>9.3f} {t_csv / took:>6.1f}x  "
                  f"{'< 1 s: ' + verdict if verdict else ''}")
        raw.close()
        kept.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
