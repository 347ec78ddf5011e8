"""The conservation totals in the status bar: every task created is in exactly one place.

The equation is written out in full on purpose: it is the project's invariant, and a person
who sees it turn red knows a task was lost or counted twice without reading any log.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from queuelab.core.engine import Totals


class TotalsLabel(QLabel):
    """The totals equation; red with the difference named when it does not balance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.balanced = True
        self.setToolTip("Conservation: every task ever created is waiting, in flight, waiting "
                        "to be retried, done or dead-lettered — exactly one of them.")
        self.show_totals(Totals(0, 0, 0, 0, 0, 0))

    def show_totals(self, totals: Totals) -> None:
        self.setText(totals.describe())
        if totals.balanced != self.balanced:
            self.balanced = totals.balanced
            self.setStyleSheet("" if totals.balanced else
                               "color: white; background: #c62828; padding: 0 4px;")
        if not totals.balanced:
            parts = (totals.waiting + totals.in_flight + totals.retrying + totals.done
                     + totals.dead_lettered + totals.discarded)
            self.setToolTip(f"Unbalanced: {totals.created - parts:+,} task(s) unaccounted for.")
