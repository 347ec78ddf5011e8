"""The monitor's history: every sample of one source in one embedded SQLite file.

Reopening a source shows its past at once; a time range of it can be exported as CSV or
turned into a replay trace (`io.replay`). One file per source, under the user data folder
(`history_path`), named from the source URL with its credentials removed: the URL stored
inside, the file name and every row are free of passwords (the tests check the bytes).

Rows (`samples`, keyed by wall-clock time `t`) hold the sample's levels, the derived rates
and the counters; `span` is the seconds a row stands for. A failed poll is a row with
`reachable = 0` and no values: loaded back it is a gap, not a line across.

Retention (`prune`, run at open and then hourly): rows older than `retention_days`
(default 30) are deleted; older than one day they are folded into 1-minute rows, older than
a week into 10-minute rows (levels keep their maximum so a spike stays visible, rates their
mean, counters their maximum: the last value of a counter that only grows). A month of
5-second samples is then ~30,000 rows.

`load` reads a range; with `max_points` SQLite folds it into at most that many buckets
(what a plot needs): bench/history_load.py times a month of 5-second samples.
"""

from __future__ import annotations

import csv
import hashlib
import math
import re
import sqlite3
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from queuelab.core.urls import strip_credentials

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from queuelab.core.monitoring import Rates, Sample

RETENTION_DAYS = 30.0
FLUSH_ROWS = 50  # samples buffered before a write
FLUSH_SECONDS = 10.0  # … or this long since the last write
PRUNE_EVERY = 3600.0
TIERS: tuple[tuple[float, float], ...] = ((86400.0, 60.0), (7 * 86400.0, 600.0))
"""(age in seconds, bucket in seconds): rows older than the age are folded into buckets."""

LEVELS = ("ready", "in_flight", "failed", "delayed", "consumers")
RATES = ("arrival_rate", "completion_rate")
COUNTERS = ("arrived", "completed")
COLUMNS: tuple[str, ...] = ("t", "span", *LEVELS, *RATES, *COUNTERS, "reachable")
_AGG = {**{c: "max" for c in (*LEVELS, *COUNTERS)}, **{c: "avg" for c in RATES}}

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS samples (
    t REAL PRIMARY KEY, span REAL NOT NULL,
    {", ".join(f"{c} REAL" for c in (*LEVELS, *RATES, *COUNTERS))},
    reachable INTEGER NOT NULL
) WITHOUT ROWID;
"""


def safe_url(url: str) -> str:
    """The URL as the history keeps it: no password, no password-like query value."""
    return strip_credentials(url)


def history_path(url: str, folder: Path | None = None) -> Path:
    """The history file of the source at `url` (one per source, whatever its password)."""
    if folder is None:
        import platformdirs

        folder = Path(platformdirs.user_data_dir("QueueLab", appauthor=False)) / "monitor"
    kept = safe_url(url)
    label = re.sub(r"[^A-Za-z0-9._-]+", "-", kept.partition("://")[2])[:60].strip("-.")
    digest = hashlib.sha256(kept.encode()).hexdigest()[:12]
    return folder / f"{label or 'source'}-{digest}.sqlite"


def _value(v: float | int | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


class HistoryStore:
    """Samples of one source on disk; `add` buffers, `flush` writes, `load` reads a range."""

    def __init__(self, path: Path, url: str = "", *,
                 retention_days: float = RETENTION_DAYS, tiers: Sequence[tuple[float, float]]
                 = TIERS, prune: bool = True) -> None:
        self.path = Path(path)
        self.retention = retention_days * 86400.0
        self.tiers = tuple(tiers)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False)
        self._db.executescript("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
                               + _SCHEMA)
        if url:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('source', ?)",
                             (safe_url(url),))
            self._db.commit()
        self._pending: list[tuple[float | int | None, ...]] = []
        self._flushed = time.monotonic()
        self._pruned = 0.0
        if prune:  # an export or a replay only reads: it leaves retention to the watch
            self.prune()

    @classmethod
    def for_source(cls, url: str, folder: Path | None = None, **kw: float) -> HistoryStore:
        return cls(history_path(url, folder), url, **kw)  # type: ignore[arg-type]

    @property
    def source(self) -> str:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'source'").fetchone()
        return str(row[0]) if row else ""

    def close(self) -> None:
        self.flush()
        self._db.close()

    # ------------------------------------------------------------------ writing

    def add(self, s: Sample, r: Rates, span: float = 0.0) -> None:
        """Buffer one sample; written after FLUSH_ROWS samples or FLUSH_SECONDS."""
        ok = s.reachable
        self._pending.append((
            s.t, span,
            *(_value(getattr(s, c)) if ok else None for c in LEVELS),
            _value(r.arrival) if ok else None, _value(r.completion) if ok else None,
            _value(s.arrived) if ok else None, _value(s.completed) if ok else None,
            1 if ok else 0,
        ))
        if len(self._pending) >= FLUSH_ROWS or time.monotonic() - self._flushed > FLUSH_SECONDS:
            self.flush()
        if s.t - self._pruned > PRUNE_EVERY:
            self.prune(s.t)

    def add_rows(self, rows: Sequence[tuple[float | int | None, ...]]) -> None:
        """Write rows in COLUMNS order at once (imports and the benchmark)."""
        self._db.executemany(f"INSERT OR REPLACE INTO samples VALUES "
                             f"({', '.join('?' * len(COLUMNS))})", rows)
        self._db.commit()

    def flush(self) -> None:
        if self._pending:
            rows, self._pending = self._pending, []
            self.add_rows(rows)
        self._flushed = time.monotonic()

    def prune(self, now: float | None = None) -> None:
        """Delete rows past the retention; fold older rows into the tiers' buckets."""
        now = time.time() if now is None else now
        self._pruned = now
        self.flush()
        db = self._db
        db.execute("DELETE FROM samples WHERE t < ?", (now - self.retention,))
        for age, bucket in self.tiers:
            self._fold(now - age, bucket)
        db.commit()

    def _fold(self, before: float, bucket: float) -> None:
        """Fold rows older than `before` that are finer than `bucket` into bucket rows."""
        db = self._db
        cut = math.floor(before / bucket) * bucket
        aggs = ", ".join(f"{_AGG[c]}({c})" for c in (*LEVELS, *RATES, *COUNTERS))
        # reachable rows only feed the values; a bucket with none stays a gap
        folded = db.execute(
            f"SELECT CAST(t / ?1 AS INTEGER) * ?1 AS b, ?1, "
            f"{aggs.replace('(', '(CASE WHEN reachable THEN ').replace(')', ' END)')}, "
            f"max(reachable) FROM samples WHERE t < ?2 AND span < ?1 GROUP BY b",
            (bucket, cut)).fetchall()
        if folded:
            db.execute("DELETE FROM samples WHERE t < ? AND span < ?", (cut, bucket))
            db.executemany(f"INSERT OR REPLACE INTO samples VALUES "
                           f"({', '.join('?' * len(COLUMNS))})", folded)

    # ------------------------------------------------------------------ reading

    def span(self) -> tuple[float, float] | None:
        """The first and last sample times, or None when empty."""
        self.flush()
        first, last = self._db.execute("SELECT min(t), max(t) FROM samples").fetchone()
        return None if first is None else (float(first), float(last))

    def count(self) -> int:
        self.flush()
        return int(self._db.execute("SELECT count(*) FROM samples").fetchone()[0])

    def load(self, start: float = -math.inf, end: float = math.inf,
             max_points: int | None = None) -> dict[str, NDArray[np.float64]]:
        """Columns of the rows with start <= t < end, as float arrays (NaN = not known).

        With `max_points`, a longer range is folded by SQLite into at most that many
        buckets (levels and counters: maximum, rates: mean), t the bucket's first sample.
        """
        self.flush()
        lo = -1e300 if start == -math.inf else start
        hi = 1e300 if end == math.inf else end
        rows: list[tuple[float | None, ...]]
        if max_points is not None:
            first, last, n = self._db.execute(
                "SELECT min(t), max(t), count(*) FROM samples WHERE t >= ? AND t < ?",
                (lo, hi)).fetchone()
            if n and n > max_points:
                return _columns(self._folded(first, last, max_points))
        rows = self._db.execute(f"SELECT {', '.join(COLUMNS)} FROM samples "
                                f"WHERE t >= ? AND t < ? ORDER BY t", (lo, hi)).fetchall()
        return _columns(rows)

    def _folded(self, first: float, last: float, buckets: int
                ) -> list[tuple[float | None, ...]]:
        """One aggregate per bucket, each a range scan of the primary key.

        One GROUP BY over the whole range would be a single statement, but SQLite sorts
        the rows by bucket first; a range query per bucket reads them in key order and
        is about three times as fast (a month of 5-second rows: bench/history_load.py).
        A failed poll's row holds NULLs, which the aggregates skip.
        """
        width = (last - first) / buckets * (1 + 1e-9) or 1.0
        cols = ", ".join(f"{_AGG[c]}({c})" for c in (*LEVELS, *RATES, *COUNTERS))
        sql = (f"SELECT min(t), max(span), {cols}, max(reachable) FROM samples "
               "WHERE t >= ? AND t < ?")
        cur = self._db.cursor()
        out = []
        for i in range(buckets):
            row = cur.execute(sql, (first + i * width, first + (i + 1) * width)).fetchone()
            if row[0] is not None:
                out.append(row)
        return out

    def export_csv(self, path: Path, start: float = -math.inf, end: float = math.inf) -> int:
        """Write the rows of a range as CSV (with an ISO time column); returns the rows."""
        data = self.load(start, end)
        n = len(data["t"])
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(("time_utc", *COLUMNS))
            for i in range(n):
                t = float(data["t"][i])
                iso = datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")
                w.writerow((iso, *("" if math.isnan(v) else f"{v:.12g}"
                                   for v in (float(data[c][i]) for c in COLUMNS))))
        return n


def _columns(rows: list[tuple[float | None, ...]]) -> dict[str, NDArray[np.float64]]:
    if not rows:
        return {c: np.empty(0) for c in COLUMNS}
    a = np.array(rows, dtype=np.float64)  # None becomes NaN
    return {c: a[:, i] for i, c in enumerate(COLUMNS)}
