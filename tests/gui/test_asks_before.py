"""The window asks first: before a live engine imports the module a scenario's handler
names (naming the module; a yes remembered per scenario file: gui.main_window.
may_import_handler, gui.files), and before a run within budget but large starts
(core.budget.large_run)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox

from queuelab.gui.main_window import MainWindow


@pytest.fixture
def foreign(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A scenario naming a handler whose module leaves a marker when imported."""
    marker = tmp_path / "imported"
    (tmp_path / "strangers_module.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef handle(task):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("QUEUELAB_TRUSTED_MODULES", raising=False)
    monkeypatch.delitem(sys.modules, "strangers_module", raising=False)
    scenario = tmp_path / "shared.toml"
    scenario.write_text('[run]\ntime_scale = 0.05\n[service]\nhandler = '
                        '"strangers_module:handle"\n')
    return scenario, marker


def answering(monkeypatch: pytest.MonkeyPatch, answer: QMessageBox.StandardButton,
              asked: list[str]) -> None:
    def question(_parent: Any, _title: str, text: str, *_args: Any) -> Any:
        asked.append(text)
        return answer

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(MainWindow, "show_error", lambda self, title, text: asked.append(text))


def test_the_window_asks_before_importing_and_remembers_a_yes(
        window: MainWindow, foreign: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, marker = foreign
    asked: list[str] = []
    answering(monkeypatch, QMessageBox.StandardButton.No, asked)
    assert window.open_file(scenario)  # simulated: nothing asked, nothing imported
    assert asked == [] and not marker.exists()
    window.set_mode("live")
    assert "import the Python module 'strangers_module'" in asked[0]
    assert window.runner.kind != "live" and not marker.exists()  # declined: not imported
    assert "was not allowed to be imported" in asked[1]

    asked.clear()
    answering(monkeypatch, QMessageBox.StandardButton.Yes, asked)
    window.set_mode("live")
    assert len(asked) == 1 and window.runner.kind == "live" and marker.exists()
    asked.clear()
    window.reset()  # a new live engine for the same file: remembered, not asked again
    assert asked == [] and window.runner.kind == "live"


def test_a_trusted_module_is_not_asked_about(
        window: MainWindow, foreign: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    scenario, marker = foreign
    asked: list[str] = []
    answering(monkeypatch, QMessageBox.StandardButton.No, asked)
    monkeypatch.setenv("QUEUELAB_TRUSTED_MODULES", "strangers_module")
    assert window.open_file(scenario)
    window.set_mode("live")
    assert asked == [] and window.runner.kind == "live" and marker.exists()


def test_a_large_run_is_asked_about_before_it_starts(
        window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from queuelab.core.engine import RunState
    from queuelab.core.scenario import RunConfig, Scenario

    asked: list[str] = []
    answering(monkeypatch, QMessageBox.StandardButton.No, asked)
    big = replace(Scenario(), run=RunConfig(duration=3e6, warmup=0.0, sample_interval=1.0))
    assert window.set_scenario(big, None)
    window.toggle_run()
    assert asked == ["This run will take 3,000,000 frames (about 600 MB if saved). Start it "
                     "anyway? (A shorter duration or a longer sample interval makes it "
                     "smaller.)"]
    assert window.runner.engine is not None and window.runner.engine.state == RunState.IDLE
    answering(monkeypatch, QMessageBox.StandardButton.Yes, asked)
    window.toggle_run()
    assert window.runner.engine.state != RunState.IDLE
    window.runner.toggle()  # pause it
    asked.clear()
    assert window.set_scenario(Scenario(), None)
    window.toggle_run()  # an ordinary run: nothing asked
    assert asked == []
