"""GUI tests: async tests run on a qasync loop, so Qt timers fire while a test awaits.

On pytest-asyncio's default loop Qt timers never fire; this hook makes every
`@pytest.mark.asyncio` test here run on a `qasync.QEventLoop` over the one QApplication.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest
import qasync
from PySide6.QtWidgets import QApplication

from queuelab.gui.main_window import MainWindow


def _qt_loop() -> qasync.QEventLoop:
    app = QApplication.instance() or QApplication([])
    return qasync.QEventLoop(app)


def pytest_asyncio_loop_factories(config: pytest.Config,
                                  item: pytest.Item) -> Mapping[str, Callable[[], Any]]:
    return {"qasync": _qt_loop}


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test gets its own QSettings folder: nothing read from or left in the user's."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("settings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))


@pytest.fixture
def window(qtbot: Any) -> MainWindow:
    """A fresh main window, shown, with nothing restored from earlier runs."""
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.show()
    return w
