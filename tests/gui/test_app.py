"""`queuelab` with no command: the app's entry point on the qasync loop."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtWidgets import QApplication

from queuelab.gui.app import main, run_window
from queuelab.gui.files import shipped_scenarios
from queuelab.gui.main_window import MainWindow

from .helpers import wait_until


def test_bad_arguments_are_refused_before_any_window(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["one.toml", "two.toml"]) == 2
    assert main(["--frobnicate"]) == 2
    assert main(["does-not-exist.toml"]) == 2
    assert "no such file" in capsys.readouterr().err


@pytest.mark.asyncio
async def test_window_opens_the_named_file_and_the_app_ends_when_it_closes() -> None:
    bursty = next(p for p in shipped_scenarios() if "bursty" in p.name)
    task = asyncio.ensure_future(run_window(str(bursty)))

    def shown() -> list[MainWindow]:
        return [w for w in QApplication.topLevelWidgets()
                if isinstance(w, MainWindow) and w.isVisible()]

    await wait_until(lambda: bool(shown()), what="the main window")
    [window] = shown()
    assert window.scenario_path == bursty
    assert window.scenario.arrivals.process == "bursty"
    window.toggle_run()
    window.close()
    assert await asyncio.wait_for(task, 10) == 0
    assert window.runner.engine is None


def test_the_app_has_its_icon(qapp) -> None:
    from queuelab.gui.app import app_icon

    icon = app_icon()
    assert not icon.isNull() and len(icon.availableSizes()) >= 4
