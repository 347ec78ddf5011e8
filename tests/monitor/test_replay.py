"""History → trace of counts → scenario → simulated run: the counts survive every step, the
service time is estimated where the source shows it, and a depth-only history is refused."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.core.arrivals import spread_counts
from queuelab.core.monitoring import Rates, Sample, gap
from queuelab.io.history import HistoryStore
from queuelab.io.replay import ReplayError, make_replay
from queuelab.io.scenario_files import load_scenario

T0 = 1_700_000_000.0


def recorded(tmp_path: Path, *, rates_known: bool = True) -> HistoryStore:
    """Half an hour every 5 s: 2 arrivals/s, then 5/s; 4 consumers busy 1 s per task;
    an outage of a minute in the middle."""
    store = HistoryStore(tmp_path / "h.sqlite", "amqp://u:pw@h/%2F?queue=q",
                         retention_days=1e6)
    for k in range(361):
        t = T0 + 5.0 * k
        if 170 <= k < 182:
            store.add(gap(t, "away"), Rates(math.nan, math.nan))
            continue
        lam = 2.0 if k < 180 else 5.0
        store.add(Sample(t=t, ready=3 if k < 180 else 40, in_flight=4, consumers=4),
                  Rates(lam, 4.0) if rates_known else Rates(math.nan, math.nan))
    store.flush()
    return store


def test_spread_counts_keeps_each_interval_and_the_seed_decides() -> None:
    counts = [(0.0, 60.0, 7), (60.0, 120.0, 0), (120.0, 180.0, 30)]
    times = spread_counts(counts, random.Random(3))
    assert len(times) == 37 and list(times) == sorted(times)
    for a, b, n in counts:
        assert sum(a <= x < b for x in times) == n
    assert times == spread_counts(counts, random.Random(3))
    assert times != spread_counts(counts, random.Random(4))


def test_replay_counts_gap_and_service_estimate(tmp_path: Path) -> None:
    r = make_replay(recorded(tmp_path), interval=60.0)
    # 169 intervals at 2/s and 178 at 5/s of 5 s each (those touching the gap are unknown)
    assert r.arrived == 169 * 5 * 2 + 178 * 5 * 5
    assert r.unreachable == 13 * 5.0
    assert r.service_mean == pytest.approx(1.0) and "busy periods" in r.service_how
    assert r.workers == 4
    assert all(b > a for a, b, _ in r.counts)


def test_export_trace_to_a_scenario_that_runs(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    store = recorded(tmp_path)
    store.close()
    trace, scen = tmp_path / "trace.csv", tmp_path / "replay.toml"
    assert main(["monitor", "export-trace", str(tmp_path / "h.sqlite"), "--out", str(trace),
                 "--scenario", str(scen), "--interval", "30"]) == 0
    said = capsys.readouterr().out
    assert "estimate" in said and "unreachable for 65 s" in said
    s = load_scenario(scen)
    assert s.arrivals.process == "trace" and s.service.mean == pytest.approx(1.0)
    assert s.pool.workers == 4 and "estimated" in s.name and "pw" not in scen.read_text()
    total = sum(int(line.split(",")[2]) for line in trace.read_text().splitlines()[2:])
    assert len(s.arrivals.trace_times) == total
    from queuelab.sim.engine import SimEngine

    engine = SimEngine(s)
    engine.start()
    while engine.step():
        pass
    assert engine.totals().check().created == total


def test_depth_only_history_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    with pytest.raises(ReplayError, match="depth only"):
        make_replay(recorded(tmp_path, rates_known=False))
    assert main(["monitor", "export-trace", str(tmp_path / "h.sqlite"), "--out",
                 str(tmp_path / "t.csv")]) == 2
    assert "depth only" in capsys.readouterr().err
