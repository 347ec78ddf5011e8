"""One editor widget per kind of knob, all with the same small interface.

The scenario form is generated from `core.scenario.KNOBS`, so it needs, for any knob, a widget
that shows a value, reports a committed edit (not every keystroke: a half-typed number must
not reach a running engine) and can say when its text is not even a value.
"""

from __future__ import annotations

import math
import re
from abc import abstractmethod
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QLocale, QObject, Signal
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)

from queuelab.core.urls import has_password, redact_url

if TYPE_CHECKING:
    from queuelab.core.scenario import KnobInfo

_BIG = 1e9
_C_LOCALE = QLocale.c()  # "0.5", never "0,5": scenario files and help texts use points


class Editor(QObject):
    """Wraps one widget: `committed(value)` on a finished edit, `unparsable(reason)` on junk."""

    committed = Signal(object)
    unparsable = Signal(str)

    def __init__(self, info: KnobInfo, widget: QWidget) -> None:
        super().__init__(widget)
        self.info = info
        self.widget = widget
        widget.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        widget.setMinimumWidth(90)

    @abstractmethod
    def value(self) -> Any:
        """The value the widget shows now, in the knob's type."""

    def set_value(self, value: Any) -> None:
        """Show `value` without reporting it as an edit."""
        blocked = self.widget.blockSignals(True)
        try:
            self._show(value)
        finally:
            self.widget.blockSignals(blocked)

    @abstractmethod
    def _show(self, value: Any) -> None:
        """Put `value` in the widget (signals are blocked by `set_value`)."""

    def _emit(self, *_: object) -> None:
        self.committed.emit(self.value())


class _TrimmedDoubleSpinBox(QDoubleSpinBox):
    """Shows 3.2 rather than 3.200000: six decimals of precision without the noise."""

    def textFromValue(self, value: float) -> str:
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return "0" if text in ("-0", "") else text


def _suffix(unit: str) -> str:
    return f" {unit}" if unit else ""


class FloatEditor(Editor):
    def __init__(self, info: KnobInfo) -> None:
        box = _TrimmedDoubleSpinBox()
        box.setLocale(_C_LOCALE)
        box.setDecimals(6)
        knob = info.knob
        box.setRange(-_BIG if knob.minimum is None else knob.minimum,
                     _BIG if knob.maximum is None else knob.maximum)
        if knob.step is not None:
            step = knob.step
        elif knob.maximum is not None and knob.maximum <= 1:
            step = 0.01
        else:
            step = 1.0
        box.setSingleStep(step)
        box.setSuffix(_suffix(knob.unit))
        box.setKeyboardTracking(False)  # valueChanged on Enter / focus out / arrows only
        box.setAccelerated(True)
        box.setCorrectionMode(QAbstractSpinBox.CorrectionMode.CorrectToNearestValue)
        super().__init__(info, box)
        self.box = box
        box.valueChanged.connect(self._emit)

    def value(self) -> float:
        return float(self.box.value())

    def _show(self, value: Any) -> None:
        self.box.setValue(float(value))


class IntEditor(Editor):
    def __init__(self, info: KnobInfo) -> None:
        box = QSpinBox()
        box.setLocale(_C_LOCALE)
        knob = info.knob
        box.setRange(int(-2**31 + 1 if knob.minimum is None else knob.minimum),
                     int(2**31 - 1 if knob.maximum is None else min(knob.maximum, 2**31 - 1)))
        box.setSingleStep(int(knob.step or 1))
        box.setSuffix(_suffix(knob.unit))
        box.setKeyboardTracking(False)
        box.setAccelerated(True)
        super().__init__(info, box)
        self.box = box
        box.valueChanged.connect(self._emit)

    def value(self) -> int:
        return int(self.box.value())

    def _show(self, value: Any) -> None:
        self.box.setValue(int(value))


class ChoiceEditor(Editor):
    def __init__(self, info: KnobInfo) -> None:
        box = QComboBox()
        box.addItems(list(info.knob.choices))
        super().__init__(info, box)
        self.box = box
        box.currentTextChanged.connect(self._emit)

    def value(self) -> str:
        return self.box.currentText()

    def _show(self, value: Any) -> None:
        self.box.setCurrentText(str(value))


class BoolEditor(Editor):
    def __init__(self, info: KnobInfo) -> None:
        box = QCheckBox("enabled")
        super().__init__(info, box)
        self.box = box
        box.toggled.connect(self._emit)

    def value(self) -> bool:
        return self.box.isChecked()

    def _show(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class LineEditor(Editor):
    """A knob typed into one line. A URL with a password is shown masked; the mask is never
    sent back."""

    def __init__(self, info: KnobInfo, widget: QWidget | None = None,
                 line: QLineEdit | None = None) -> None:
        self.line = line or QLineEdit()
        super().__init__(info, widget or self.line)
        self._shown = ""
        self._actual = ""
        self.line.editingFinished.connect(self._finished)

    def text(self) -> str:
        """What the line holds, the masked password restored."""
        text = self.line.text()
        return self._actual if text == self._shown else text

    def _show(self, value: Any) -> None:
        self._actual = str(value)
        self._shown = redact_url(self._actual) if has_password(self._actual) else self._actual
        blocked = self.line.blockSignals(True)
        self.line.setText(self._shown)
        self.line.blockSignals(blocked)

    def _finished(self) -> None:
        if self.line.text() != self._shown:
            self._emit()


class TextEditor(LineEditor):
    """A string knob."""

    def value(self) -> str:
        return self.text()


class FileEditor(TextEditor):
    """A data-file name (trace, samples) with a Browse button."""

    def __init__(self, info: KnobInfo) -> None:
        box = QWidget()
        lay = QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        line = QLineEdit()
        line.setPlaceholderText("file.csv")
        browse = QToolButton()
        browse.setText("…")
        browse.setToolTip("Choose a CSV file")
        lay.addWidget(line, 1)
        lay.addWidget(browse)
        super().__init__(info, box, line)
        browse.clicked.connect(self._browse)

    def _browse(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.widget, self.info.knob.label, "",
                                              "CSV files (*.csv);;All files (*)")
        if path:
            self.line.setText(path)
            self._emit()


_NUMBER_SPLIT = re.compile(r"[,;\s]+")


class WeightsEditor(LineEditor):
    """A list of numbers typed as `1, 2, 4`."""

    def __init__(self, info: KnobInfo) -> None:
        super().__init__(info)
        self.line.setPlaceholderText("e.g. 1, 2, 4")

    def value(self) -> tuple[float, ...]:
        return parse_numbers(self.text())

    def _show(self, value: Any) -> None:
        super()._show(", ".join(f"{v:g}" for v in value))

    def _finished(self) -> None:
        if self.line.text() == self._shown:
            return
        try:
            parse_numbers(self.line.text())
        except ValueError as exc:
            self.unparsable.emit(str(exc))
            return
        self._emit()


def parse_numbers(text: str) -> tuple[float, ...]:
    """`"1, 2 4"` -> (1.0, 2.0, 4.0); ValueError naming the first word that is not a number."""
    words = [w for w in _NUMBER_SPLIT.split(text.strip()) if w]
    out = []
    for w in words:
        try:
            v = float(w)
        except ValueError:
            raise ValueError(f"not a number: {w!r}") from None
        if not math.isfinite(v):
            raise ValueError(f"must be a finite number (got {w})")
        out.append(v)
    return tuple(out)


def make_editor(info: KnobInfo, data_file: bool = False) -> Editor:
    """The editor for a knob of any kind."""
    if info.knob.choices:
        return ChoiceEditor(info)
    if info.kind is bool:
        return BoolEditor(info)
    if info.kind is int:
        return IntEditor(info)
    if info.kind is float:
        return FloatEditor(info)
    if info.kind is tuple:
        return WeightsEditor(info)
    if data_file:
        return FileEditor(info)
    return TextEditor(info)
