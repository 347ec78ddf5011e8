"""The history store: retention, downsampling that keeps spikes and gaps, range loads,
CSV export, and a file name and contents free of credentials."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from queuelab.core.monitoring import Rates, Sample, gap
from queuelab.io.history import HistoryStore, history_path

DAY = 86400.0


def test_retention_and_tiers(tmp_path: Path) -> None:
    now = 40 * DAY
    store = HistoryStore(tmp_path / "h.sqlite", tiers=((DAY, 60.0), (7 * DAY, 600.0)))
    rows = []
    for k in range(int(35 * DAY / 300)):  # 35 days, one sample every 5 minutes …
        t = now - 35 * DAY + k * 300.0
        rows.append((t, 0.0, 5.0, 1.0, 0.0, 0.0, 2.0, 1.0, 1.0, None, 10.0 + k, 1))
    for k in range(int(2 * DAY / 5)):  # … and the last two days every 5 seconds
        t = now - 2 * DAY + k * 5.0
        spike = 500.0 if k == 100 else 5.0
        if now - 1.5 * DAY <= t < now - 1.5 * DAY + 600:  # a 10-minute outage
            rows.append((t, 0.0, *[None] * 9, 0))
        else:
            rows.append((t, 0.0, spike, 1.0, 0.0, 0.0, 2.0, 1.0, 1.0, None, 1e6 + k, 1))
    store.add_rows(rows)
    store.prune(now)
    data = store.load()
    t = data["t"]
    assert t.min() >= now - 30 * DAY  # past the retention: gone
    old = t < now - 7 * DAY
    assert np.all(np.diff(t[old]) >= 600.0 - 1e-6)  # 10-minute rows
    mid = (t >= now - 7 * DAY + 600) & (t < now - DAY - 60)
    assert np.all(np.diff(t[mid]) >= 60.0 - 1e-6) and mid.sum() > 0
    assert np.all(np.diff(t[t >= now - DAY]) == 5.0)  # the last day at full resolution
    assert np.nanmax(data["ready"]) == 500.0  # the folded spike is still there
    assert 0 in data["reachable"][t < now - DAY]  # so is the gap …
    i = int(np.flatnonzero(data["reachable"] == 0)[0])
    assert math.isnan(data["ready"][i])  # … as a gap
    assert store.count() < 30 * 288 + 6 * 1440 + 17280 + 10


def test_load_folds_to_max_points_and_exports_csv(tmp_path: Path) -> None:
    store = HistoryStore(tmp_path / "h.sqlite", retention_days=1e6)
    t0 = 1_700_000_000.0
    for k in range(1000):
        s = Sample(t=t0 + k, ready=k % 7, in_flight=1, consumers=2, completed=float(k))
        store.add(s, Rates(1.0, 2.0))
    store.add(gap(t0 + 1000, "away"), Rates(math.nan, math.nan))
    folded = store.load(max_points=100)
    assert 90 <= len(folded["t"]) <= 100
    assert set(folded["ready"][:-1]) == {6.0}  # each bucket keeps its maximum
    part = store.load(t0 + 10, t0 + 20)
    assert list(part["t"]) == [t0 + k for k in range(10, 20)]
    n = store.export_csv(tmp_path / "h.csv", t0 + 995)
    rows = list(csv.DictReader((tmp_path / "h.csv").open()))
    assert n == 6 and rows[0]["ready"] == str(995 % 7) and rows[-1]["ready"] == ""
    assert rows[-1]["reachable"] == "0" and rows[0]["time_utc"].endswith("+00:00")


def test_one_file_per_source_whatever_the_password(tmp_path: Path) -> None:
    a = history_path("amqp://bob:one@h/%2F?queue=q&token=abc", tmp_path)
    b = history_path("amqp://bob:two@h/%2F?queue=q&token=xyz", tmp_path)
    c = history_path("amqp://bob:one@h/%2F?queue=other", tmp_path)
    assert a == b != c
    assert "one" not in a.name and "abc" not in a.name
    store = HistoryStore(a, "amqp://bob:one@h/%2F?queue=q&token=abc")
    store.close()
    raw = a.read_bytes()
    assert b":one@" not in raw and b"abc" not in raw
