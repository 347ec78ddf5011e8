"""The scenario editor, generated from `core.scenario.KNOBS`: a knob added there appears here.

Every edit becomes a `ParamChange` handed to a `submit` callable supplied by the window (which
applies it to the running engine or rebuilds the idle scenario) and which answers with the
reason when the value is refused. A refused value stays visible at its field, framed in red
with the reason beneath it, and is not applied; once another edit succeeds, refused values
are offered again, so `min 30` refused for being above `max 20` goes through as soon as max
becomes 40.

While a run goes on the form shows the knobs in force: a change the scenario's timeline
makes is shown too (`note` says so at the field), never submitted back as an edit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape
from typing import Any

from PySide6.QtCore import QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QFormLayout,
    QLabel,
    QMenu,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.engine import AppliedChange
from queuelab.core.knobs import Knob
from queuelab.core.scenario import KNOBS, SECTIONS, KnobInfo, Scenario
from queuelab.core.timeline import TimelineEntry, moment_of
from queuelab.core.validation import ParamChange
from queuelab.gui.edits import DATA_FILE_KNOBS
from queuelab.gui.knob_editors import Editor, make_editor
from queuelab.gui.plot_style import muted

Submit = Callable[[ParamChange], str | None]
"""Apply a change; return None when applied, else the reason it was refused."""

INITIALLY_OPEN = frozenset({"arrivals", "service", "failures", "pool", "retry"})
NOT_LIVE_REASON = "Fixed while a run goes on: reset the run to change it."
_INVALID_STYLE = "border: 2px solid #d32f2f; border-radius: 3px;"


def _range_text(knob: Knob) -> str:
    lo, hi = knob.minimum, knob.maximum
    unit = f" {knob.unit}" if knob.unit else ""
    if lo is not None and hi is not None:
        open_ = "(" if knob.exclusive_minimum else "["
        return f"{open_}{lo:g}, {hi:g}]{unit}"
    if lo is not None:
        return f"{'>' if knob.exclusive_minimum else '≥'} {lo:g}{unit}"
    if hi is not None:
        return f"≤ {hi:g}{unit}"
    return ""


def knob_tooltip(info: KnobInfo) -> str:
    """Label, unit, help and range: what a person needs to set the knob."""
    k = info.knob
    head = f"<b>{escape(k.label)}</b>" + (f" ({escape(k.unit)})" if k.unit else "")
    lines = [head, escape(k.help)]
    rng = _range_text(k)
    if rng:
        lines.append(f"Range: {escape(rng)}")
    if k.choices:
        lines.append(f"One of: {escape(', '.join(k.choices))}")
    if not k.live:
        lines.append("<i>Cannot change while a run goes on.</i>")
    lines.append(f"<span style='color:#777'>{escape(info.path)}</span>")
    return "<br>".join(lines)


def timeline_note(timeline: Sequence[TimelineEntry], change: AppliedChange) -> str:
    """What a knob's tooltip says of a value the timeline set: when, and the moment's label."""
    found = moment_of(timeline, change.path, change.t)
    at, label, restore = (change.t, "", False) if found is None else \
        (found[0], found[1].label, found[2])
    verb = "Put back" if restore else "Set"
    return f"{verb} by the timeline at {at:g} s" + (f" ({label})" if label else "")


class KnobField:
    """One row of the form: the label, the editor and the place its error is shown."""

    def __init__(self, info: KnobInfo, editor: Editor, label: QLabel, error: QLabel,
                 row: QWidget) -> None:
        self.info = info
        self.editor = editor
        self.label = label
        self.error = error
        self.row = row
        self.invalid_reason: str | None = None
        self.locked = False  # not live and a run goes on
        self.note: str | None = None  # why the value in force is not the user's (the timeline)
        self._refresh_tooltip()

    @property
    def path(self) -> str:
        return self.info.path

    def mark_invalid(self, reason: str) -> None:
        self.invalid_reason = reason
        self.editor.widget.setStyleSheet(_INVALID_STYLE)
        self.error.setText(reason)
        self.error.show()
        self._refresh_tooltip()

    def clear_invalid(self) -> None:
        if self.invalid_reason is None:
            return
        self.invalid_reason = None
        self.editor.widget.setStyleSheet("")
        self.error.hide()
        self.error.clear()
        self._refresh_tooltip()

    def set_locked(self, locked: bool) -> None:
        self.locked = locked
        self.editor.widget.setEnabled(not locked)
        self._refresh_tooltip()

    def set_note(self, note: str | None, color: str = "") -> None:
        """Say at the field who set the value it shows: tooltip, and its label in `color`."""
        self.note = note
        self.label.setStyleSheet(f"color: {color}; font-style: italic;" if note else "")
        self._refresh_tooltip()

    def _refresh_tooltip(self) -> None:
        tip = knob_tooltip(self.info)
        if self.note:
            tip = f"<b>{escape(self.note)}</b><br>{tip}"
        if self.locked:
            tip = f"<b style='color:#a15c00'>{escape(NOT_LIVE_REASON)}</b><br>{tip}"
        if self.invalid_reason:
            why = escape(self.invalid_reason)
            tip = f"<b style='color:#d32f2f'>Not applied: {why}</b><br>{tip}"
        for w in (self.editor.widget, self.label):
            w.setToolTip(tip)


class _Section(QWidget):
    """A titled group of knobs that folds away: arrow button on top, form below."""

    def __init__(self, name: str, doc: str, open_: bool) -> None:
        super().__init__()
        self.name = name
        self.button = QToolButton()
        self.button.setText(name.capitalize())
        self.button.setToolTip(doc)
        self.button.setCheckable(True)
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.button.setStyleSheet("QToolButton { border: none; font-weight: bold; padding: 3px; }")
        self.body = QWidget()
        self.form = QFormLayout(self.body)
        self.form.setContentsMargins(18, 0, 4, 6)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.button)
        lay.addWidget(self.body)
        self.button.toggled.connect(self._set_open)
        self.button.setChecked(open_)
        self._set_open(open_)

    def _set_open(self, open_: bool) -> None:
        self.button.setArrowType(Qt.ArrowType.DownArrow if open_ else Qt.ArrowType.RightArrow)
        self.body.setVisible(open_)


def sweepable(info: KnobInfo) -> bool:
    """A numeric or choice knob a sweep may vary (`tuning.axes` says which may not)."""
    from queuelab.tuning.axes import FIXED

    return (info.knob.in_file and info.path not in FIXED
            and (info.kind in (int, float) or bool(info.knob.choices)))


class ScenarioForm(QWidget):
    """Every knob of the scenario, grouped by section, editable idle or running."""

    sweep_requested = Signal(str)  # a knob's path: "Sweep this…" from its context menu

    def __init__(self, submit: Submit, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._submit = submit
        self._scenario = Scenario()
        self._pending: dict[str, Any] = {}  # refused values still shown at their fields
        self._retrying = False
        self.fields: dict[str, KnobField] = {}
        self.last_menu: QMenu | None = None
        self.sections: dict[str, _Section] = {}

        self._title = QLabel()
        self._title.setWordWrap(True)
        self._title.setTextFormat(Qt.TextFormat.RichText)
        self._title.setContentsMargins(6, 6, 6, 6)

        inner = QWidget()
        inner_lay = QVBoxLayout(inner)
        inner_lay.setContentsMargins(2, 2, 2, 2)
        inner_lay.setSpacing(2)
        inner_lay.addWidget(self._title)
        for name, cls in SECTIONS.items():
            doc = (cls.__doc__ or "").strip().splitlines()[0]
            section = _Section(name, doc, name in INITIALLY_OPEN)
            self.sections[name] = section
            inner_lay.addWidget(section)
        inner_lay.addStretch(1)
        for info in KNOBS.values():
            if info.knob.in_file:
                self._add_field(info)

        scroll = self.scroll_area = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll)
        self.set_scenario(self._scenario)

    # -- building -------------------------------------------------------------------------------

    def _add_field(self, info: KnobInfo) -> None:
        editor = make_editor(info, data_file=info.path in DATA_FILE_KNOBS)
        label = QLabel(info.knob.label)
        error = QLabel()
        error.setWordWrap(True)
        error.setStyleSheet("color: #d32f2f; font-size: 11px;")
        error.hide()
        row = QWidget()
        row_lay = QVBoxLayout(row)
        row_lay.setContentsMargins(0, 0, 0, 0)
        row_lay.setSpacing(1)
        row_lay.addWidget(editor.widget)
        row_lay.addWidget(error)
        self.sections[info.section].form.addRow(label, row)
        field = KnobField(info, editor, label, error, row)
        self.fields[info.path] = field
        editor.committed.connect(lambda value, p=info.path: self._commit(p, value))
        editor.unparsable.connect(lambda reason, p=info.path: self._unparsable(p, reason))
        if sweepable(info):
            for w in (label, row):
                w.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
                w.customContextMenuRequested.connect(
                    lambda pos, w=w, p=info.path: self._knob_menu(w, pos, p))

    def _knob_menu(self, widget: QWidget, pos: QPoint, path: str) -> None:
        """Right-click on a numeric or choice knob: "Sweep this…"."""
        menu = QMenu(widget)
        act = menu.addAction("Sweep this…")
        act.triggered.connect(lambda: self.sweep_requested.emit(path))
        menu.popup(widget.mapToGlobal(pos))
        self.last_menu = menu

    # -- what the window calls ------------------------------------------------------------------

    @property
    def scenario(self) -> Scenario:
        return self._scenario

    def set_scenario(self, scenario: Scenario) -> None:
        """Show a scenario afresh (a file opened, a reset): forgets refused values."""
        self._pending.clear()
        for f in self.fields.values():
            f.clear_invalid()
            f.set_note(None)
        self.update_values(scenario, every=True)

    def update_values(self, scenario: Scenario, *, every: bool = False) -> None:
        """The scenario changed (an accepted edit, the timeline): refresh the fields whose
        value changed (`every`: all), keep refused values shown. A field left alone keeps
        what is being typed into it."""
        previous, self._scenario = self._scenario, scenario
        for path, f in self.fields.items():
            value = scenario.get(path)
            if path not in self._pending and (every or value != previous.get(path)):
                f.editor.set_value(value)
        self._show_title()
        self._update_visibility()

    def _show_title(self) -> None:
        """The scenario's name, and its description in a softer color of the palette."""
        s = self._scenario
        name = escape(s.name or "Untitled")
        desc = escape(s.description)
        soft = muted(self.palette()).name()
        self._title.setText(f"<b>{name}</b>" + (f"<br><span style='color:{soft}'>{desc}</span>"
                                                   if desc else ""))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._show_title()  # light or dark: the description's color follows
            for path, f in self.fields.items():
                if f.note:
                    self.note(path, f.note)

    def note(self, path: str, text: str | None) -> None:
        """Say at knob `path` why it shows the value it does (None: the user's own value)."""
        link = self.palette().color(QPalette.ColorRole.Link).name()
        self.fields[path].set_note(text, link)

    def clear_notes(self) -> None:
        for path, f in self.fields.items():
            if f.note:
                self.note(path, None)

    def set_running(self, running: bool) -> None:
        """Lock the knobs that cannot change during a run, saying why in their tooltip."""
        for f in self.fields.values():
            f.set_locked(running and not f.info.knob.live)

    def reveal(self, path: str) -> None:
        """Open the knob's section, scroll to it and put the cursor in it (a help link)."""
        field = self.fields[path]
        self.sections[field.info.section].button.setChecked(True)
        self.scroll_area.ensureWidgetVisible(field.row)
        field.editor.widget.setFocus()

    def invalid_fields(self) -> dict[str, str]:
        return {p: f.invalid_reason for p, f in self.fields.items() if f.invalid_reason}

    # -- edits ----------------------------------------------------------------------------------

    def _draft(self, path: str) -> Any:
        """What the field shows: a refused value if there is one, else the scenario's."""
        return self._pending.get(path, self._scenario.get(path))

    def _commit(self, path: str, value: Any) -> None:
        if path not in self._pending and value == self._scenario.get(path):
            return
        reason = self._submit(ParamChange(path, value))
        field = self.fields[path]
        if reason is None:
            self._pending.pop(path, None)
            field.clear_invalid()
            field.set_note(None)  # the user's value now, whoever set the one before
            self._retry_pending()
        else:
            self._pending[path] = value
            field.mark_invalid(reason)
        self._update_visibility()

    def _unparsable(self, path: str, reason: str) -> None:
        self._pending[path] = self.fields[path].editor.line.text()  # type: ignore[attr-defined]
        self.fields[path].mark_invalid(reason)

    def _retry_pending(self) -> None:
        """Offer each refused value once more: the edit just made may have made it valid."""
        if self._retrying:
            return
        self._retrying = True
        try:
            for path, value in list(self._pending.items()):
                if isinstance(value, str) and self.fields[path].info.kind is tuple:
                    continue  # text that is not a list of numbers stays refused
                if path in self._pending and not self.fields[path].locked:
                    self._commit(path, value)
        finally:
            self._retrying = False

    # -- which knobs matter ---------------------------------------------------------------------

    def _shown(self, info: KnobInfo) -> bool:
        cond = info.knob.shown_when
        if cond is None:
            return True
        key, values = cond
        sibling = KNOBS.get(f"{info.section}.{key}")
        if sibling is None:
            return True
        return self._draft(sibling.path) in values and self._shown(sibling)

    def _update_visibility(self) -> None:
        for f in self.fields.values():
            form = self.sections[f.info.section].form
            form.setRowVisible(f.row, self._shown(f.info))
