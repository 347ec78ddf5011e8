""""Sweep this…": one axis of a sweep from a knob of the form.

A numeric knob gets a range (start, stop, steps, linear or log); a choice knob a tick per
value. The axis is built by `tuning.axes.axis_from` as a sweep file's would be, so every
value is checked by the knob's own description; a bad range is refused at the field with
the reason, and OK stays disabled until it is fixed.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.scenario import KNOBS
from queuelab.core.validation import ScenarioError
from queuelab.tuning.axes import Axis, axis_from

DEFAULT_STEPS = 5


class SweepAxisDialog(QDialog):
    def __init__(self, path: str, current: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.path = path
        info = KNOBS[path]
        self.info = info
        unit = f" {info.knob.unit}" if info.knob.unit else ""
        self.setWindowTitle(f"Sweep {info.knob.label}")
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"<b>{info.knob.label}</b>{unit} - values to run the scenario "
                             "with, each with the same seeds"))
        form = QFormLayout()
        lay.addLayout(form)
        self.choices: list[QCheckBox] = []
        self.start: QDoubleSpinBox | None = None
        self.stop: QDoubleSpinBox | None = None
        self.steps = QSpinBox()
        if info.knob.choices:
            for choice in info.knob.choices:
                box = QCheckBox(choice)
                box.setChecked(True)
                box.toggled.connect(self._check)
                self.choices.append(box)
                form.addRow(box)
        else:
            integral = info.kind is int
            lo = info.knob.minimum if info.knob.minimum is not None else -1e9
            hi = info.knob.maximum if info.knob.maximum is not None else 1e9
            value = float(current) if isinstance(current, int | float) else 1.0
            start, stop = QDoubleSpinBox(), QDoubleSpinBox()
            self.start, self.stop = start, stop
            spins = ((start, value / 2 if value > 0 else value),
                     (stop, value * 2 if value > 0 else value + 1))
            for spin, v in spins:
                spin.setDecimals(0 if integral else 4)
                spin.setRange(-1e9, 1e9)  # out-of-range values are explained, not clamped
                spin.setValue(min(max(v, lo), hi) if integral else v)
                spin.setSuffix(unit)
                spin.valueChanged.connect(self._check)
                spin.setKeyboardTracking(False)
            self.steps.setRange(1, 1000)
            self.steps.setValue(DEFAULT_STEPS)
            self.steps.valueChanged.connect(self._check)
            self.linear = QRadioButton("linear")
            self.log = QRadioButton("log (even ratios)")
            self.linear.setChecked(True)
            self.linear.toggled.connect(self._check)
            form.addRow("from", self.start)
            form.addRow("to", self.stop)
            form.addRow("steps", self.steps)
            form.addRow("spacing", self.linear)
            form.addRow("", self.log)
        self.values = QLabel()
        self.values.setWordWrap(True)
        self.error = QLabel()
        self.error.setObjectName("sweep_axis_error")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #d32f2f;")
        lay.addWidget(self.values)
        lay.addWidget(self.error)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.axis: Axis | None = None
        self._check()

    def spec(self) -> Any:
        """The axis as a sweep file writes it."""
        if self.choices:
            return [b.text() for b in self.choices if b.isChecked()]
        assert self.start is not None and self.stop is not None
        kind = "logspace" if self.log.isChecked() else "linspace"
        return {kind: [self.start.value(), self.stop.value(), self.steps.value()]}

    def _check(self) -> None:
        """Build the axis; show its values, or why it cannot be."""
        why = ""
        try:
            self.axis = axis_from(self.path, self.spec(), "range")
        except ScenarioError as exc:
            self.axis = None
            why = "; ".join(e.reason for e in exc.errors[:3])
        if self.start is not None and self.stop is not None and self.axis is not None \
                and self.stop.value() < self.start.value():
            self.axis, why = None, "'to' must be at least 'from'"
        self.error.setText(why)
        self.error.setVisible(bool(why))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(self.axis is not None)
        if self.axis is not None:
            shown = ", ".join(f"{v:g}" if isinstance(v, float) else str(v)
                              for v in self.axis.values[:12])
            more = "" if len(self.axis.values) <= 12 else f" … ({len(self.axis.values)} values)"
            self.values.setText(f"values: {shown}{more}")
        else:
            self.values.setText("")
