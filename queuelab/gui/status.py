"""The conservation totals in the status bar: every task created is in exactly one place.

The equation is written out in full on purpose: it is the project's invariant, and a person
who sees it turn red knows a task was lost or counted twice without reading any log.
"""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from queuelab.core.engine import Totals

TIP = ("Conservation: every task ever created (or carried over: found in the queue when the "
       "run began) is waiting, in flight, waiting to be retried, done or dead-lettered — "
       "exactly one of them.")
SHARED_TIP = ("This queue is shared with other processes: waiting, in flight, retrying and dead "
              "are the backend's counts; 'taken by other processes' is what they took off "
              "the queue, net of what they added (shown as 'added by other processes' when "
              "they added more); 'done' is this run's own.")


class TotalsLabel(QLabel):
    """The totals equation; red with the difference named when it does not balance."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.balanced = True
        self.setToolTip(TIP)
        self.show_totals(Totals(0, 0, 0, 0, 0, 0))

    def show_totals(self, totals: Totals) -> None:
        self.setText(totals.describe())
        if totals.balanced != self.balanced:
            self.balanced = totals.balanced
            self.setStyleSheet("" if totals.balanced else
                               "color: white; background: #c62828; padding: 0 4px;")
        if totals.balanced:
            self.setToolTip(SHARED_TIP if totals.shared else TIP)
        else:
            parts = (totals.waiting + totals.in_flight + totals.retrying + totals.done
                     + totals.dead_lettered + totals.discarded + totals.by_others)
            self.setToolTip(f"Unbalanced: {totals.created + totals.carried_over - parts:+,} "
                            "task(s) unaccounted for.")
