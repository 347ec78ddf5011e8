"""The found-tasks question says when the backend's counts are approximate (lagging)."""

from __future__ import annotations

from queuelab.core.engine import FoundTasks


def test_the_found_dialog_says_the_counts_are_approximate(qtbot: object) -> None:
    from queuelab.gui.found_dialog import FoundDialog

    lagging = FoundDialog(None, "amqp://127.0.0.1/", "q", FoundTasks(7, 0, 3, 0, True), "q-2")
    exact = FoundDialog(None, "amqp://127.0.0.1/", "q", FoundTasks(7, 0, 3, 0), "q-2")
    assert "approximate" in lagging.informativeText()
    assert "approximate" not in exact.informativeText()
