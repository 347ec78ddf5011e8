"""The first-run panel: what the four plots show and the three knobs worth turning first.

A band above the plots rather than an overlay on them: it shrinks the plots while it is
shown but never hides a curve, and one click closes it. It comes back at every start until
"Don't show again" is ticked (a QSettings flag); Help ▸ What am I looking at? shows it again.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
)

from queuelab.gui import files

SETTING = "help/show_welcome"

PLOTS_HTML = (
    "<b>What am I looking at?</b> Four plots on one time axis, newest on the right:"
    "<ol style='margin-left:-18px'>"
    "<li><b>queue</b>: tasks waiting, and waiting to retry; dashed, what Erlang C predicts "
    "when the scenario is M/M/c.</li>"
    "<li><b>rate</b>: arrivals against completions per second. Arrivals above completions "
    "for long means the queue grows.</li>"
    "<li><b>errors</b>: the share of attempts that failed, and dead letters piling up "
    "(right axis).</li>"
    "<li><b>utilization</b>: how busy the workers are, and how many there are (right axis)."
    "</li></ol>A purple dashed line marks a knob changed during the run."
)

KNOBS_HTML = (
    "<b>Three knobs to try first</b> (click one to go to it):<ul style='margin-left:-18px'>"
    "<li><a href='knob:arrivals.rate'>Arrivals ▸ Rate</a>: the load. Raise it towards what "
    "the workers can serve and watch the wait explode long before 100 %.</li>"
    "<li><a href='knob:pool.workers'>Pool ▸ Workers</a>: the capacity. With strategy "
    "<i>dynamic</i>, the autoscaler's min, max and scale-up threshold decide how fast it "
    "follows a burst.</li>"
    "<li><a href='knob:retry.max_attempts'>Retry ▸ Max attempts</a>: how often a failed task "
    "is tried again before it goes to the Dead letters tab.</li></ul>"
    "Every knob can be turned while the run goes on (Space starts and pauses)."
)


def wanted() -> bool:
    """Whether the panel opens at start: until "Don't show again" was ticked."""
    value = files.settings().value(SETTING, True)
    return value not in (False, "false", "0", 0)


class WelcomePanel(QFrame):
    """The dismissible explanation; `knob_requested(path)` when a knob's link is clicked."""

    knob_requested = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("welcome_panel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#welcome_panel { background: palette(alternate-base); "
                           "border: 1px solid palette(mid); border-radius: 4px; }")
        self.plots_text = self._label(PLOTS_HTML)
        self.knobs_text = self._label(KNOBS_HTML)
        self.knobs_text.linkActivated.connect(self._link)
        self.dont_show = QCheckBox("Don't show again")
        self.dont_show.setToolTip("Help ▸ What am I looking at? brings this back")
        self.close_button = QPushButton("Got it")
        self.close_button.setDefault(False)
        self.close_button.setAutoDefault(False)
        self.close_button.clicked.connect(self.dismiss)
        side = QVBoxLayout()
        side.addWidget(self.close_button)
        side.addWidget(self.dont_show)
        side.addStretch(1)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 4, 8, 4)
        lay.setSpacing(18)
        lay.addWidget(self.plots_text, 5)
        lay.addWidget(self.knobs_text, 4)
        lay.addLayout(side)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)

    def minimumSizeHint(self) -> QSize:
        """Small: in a small window the panel gives way (clipped) rather than growing it."""
        return QSize(0, 40)

    def sizeHint(self) -> QSize:
        """Its whole text at its current width, so the tabs below give way first."""
        hint = super().sizeHint()
        if self.width() > 0 and self.hasHeightForWidth():
            hint.setHeight(self.heightForWidth(self.width()))
        return hint

    @staticmethod
    def _label(html: str) -> QLabel:
        label = QLabel(html)
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.RichText)
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        return label

    def _link(self, href: str) -> None:
        if href.startswith("knob:"):
            self.knob_requested.emit(href.removeprefix("knob:"))

    def present(self) -> None:
        """Show it again (Help menu); the tick box shows what the setting says."""
        self.dont_show.setChecked(not wanted())
        self.show()

    def dismiss(self) -> None:
        """Hide it for now; for good when "Don't show again" is ticked."""
        files.settings().setValue(SETTING, not self.dont_show.isChecked())
        self.hide()
