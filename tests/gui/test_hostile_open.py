"""The app refuses a hostile scenario with the reason and keeps running (io.bounded through
load_scenario and resolve_data): a trace that is a device, a budget too large."""

from __future__ import annotations

from pathlib import Path

import pytest

from queuelab.core.validation import ParamChange
from queuelab.gui.main_window import MainWindow


def test_the_window_refuses_a_device_as_a_trace_and_keeps_its_scenario(
        window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shown: list[str] = []
    monkeypatch.setattr(MainWindow, "show_error", lambda self, title, text: shown.append(text))
    s = tmp_path / "zero.toml"
    s.write_text('[arrivals]\nprocess = "trace"\ntrace = "/dev/zero"\n')
    before = window.scenario
    assert not window.open_file(s)
    assert "/dev/zero: a device, pipe or socket, not a regular file" in shown[0]
    assert window.scenario is before


def test_the_form_refuses_a_run_over_budget_with_the_figure(window: MainWindow) -> None:
    why = window._submit_change(ParamChange("run.duration", 3e7))
    assert why == ("run.sample_interval: this run would write 3 x 10^7 frames (about 6 GB of "
                   "frames.csv; at most 10^7): raise run.sample_interval or shorten "
                   "run.duration")
    assert window.scenario.run.duration == 3600.0  # the value refused, the window running
