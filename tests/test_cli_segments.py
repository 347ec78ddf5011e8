"""`queuelab run` on a scenario its timeline cuts: each segment measured after its own
warm-up against the theory for its own knobs, printed and in summary.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from queuelab.cli import main
from queuelab.core.theory import mmck

ROOT = Path(__file__).resolve().parents[1]


def test_the_summary_reports_each_segment(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(ROOT / "resources/scenarios/load-shedding.toml"), "--out",
                 str(tmp_path)])
    assert code == 0
    out = capsys.readouterr().out
    summary = json.loads((tmp_path / "summary.json").read_text())  # valid JSON: no NaN
    first, second = summary["segments"]
    assert (first["start"], first["end"], first["changes"]) == (0.0, 600.0, [])
    assert first["warmup_why"] == "the scenario's warm-up"
    assert (second["start"], second["end"]) == (600.0, 2400.0)
    assert second["changes"] == ["Rate 3.2 → 4.4 tasks/s"]
    assert second["warmup_why"].startswith("5τ, τ = 2.07 s")
    for part, rate in ((first, 3.2), (second, 4.4)):
        want = mmck(rate, 1.0, 4, 10)
        th, m = part["theory"], part["measured"]
        assert th["model"] == "M/M/c/K (c = 4, K = 10)"
        assert th["p_block"] == pytest.approx(want.p_block)
        assert m["start"] >= part["start"] + part["warmup"]
        assert m["p_block"] == pytest.approx(want.p_block, abs=0.03)
        assert abs(m["wq"] - want.wq) <= 2 * m["wq_ci95"]
        assert m["little_gap"] < 0.01
    assert "segment 2, 600-2400 s after Rate 3.2 → 4.4 tasks/s (warm-up 10 s: 5τ" in out
    assert "M/M/c/K (c = 4, K = 10): 0.760 s" in out


def test_a_run_without_a_timeline_has_no_segments(tmp_path: Path) -> None:
    assert main(["run", str(ROOT / "resources/scenarios/steady-mmc.toml"), "--duration",
                 "300", "--out", str(tmp_path), "--quiet"]) == 0
    assert "segments" not in json.loads((tmp_path / "summary.json").read_text())
