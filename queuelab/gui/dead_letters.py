"""The dead-letter pane: find failed tasks, read why they failed, reprocess or discard them.

Paging is explicit (first / previous / next / last, 200 rows a page) rather than
fetch-more-on-scroll: every query is one bounded engine call whatever the queue holds,
a live refresh re-reads exactly the page on screen, "row 40,001" is reachable in one click
instead of two hundred fetches, and the scroll bar never lies about a partly loaded list.
The engine filters and sorts; the pane never holds more than the page it shows.

The selection is kept as task ids, so a live refresh that reorders or rebuilds the page
puts it back on the same tasks; the scroll position is kept on the row at the top. Changing
the view (filter, error kind, sort, page) starts a new selection, so an action never hits
rows the user cannot see.

Engine calls are coroutines (a live backend answers over the network); they run as
asyncio tasks on the qasync loop, one page query at a time, and a failure is shown in
the pane, which keeps working.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QKeyEvent, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.engine import AppliedChange
from queuelab.core.task import DeadLetterQuery
from queuelab.gui.dead_letter_actions import (
    DISCARD,
    REPROCESS,
    BulkAction,
    BulkProgress,
    BulkResult,
    export_dead_letters,
)
from queuelab.gui.dead_letter_detail import DeadLetterDetail
from queuelab.gui.dead_letter_model import COLUMNS, SORT_COLUMN, DeadLetterModel

if TYPE_CHECKING:
    from queuelab.core.engine import Engine
    from queuelab.core.task import DeadLetterPage

log = logging.getLogger(__name__)

PAGE_SIZE = 200
FILTER_DEBOUNCE_MS = 300
MIN_REFRESH_S = 0.5  # live re-queries at most twice a second: each is a pass over the queue
ALL_KINDS = "All errors"
_SELECT_ROWS = (QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)


def confirm(parent: QWidget, title: str, text: str) -> bool:
    """Ask before an action that cannot be undone; No is the default."""
    answer = QMessageBox.question(
        parent, title, text,
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes


def _plural(n: int, word: str = "dead letter") -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


class DeadLetterTable(QTableView):
    """The table, with Delete and Enter as actions on the selection (Ctrl+A is Qt's own)."""

    delete_pressed = Signal()
    enter_pressed = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        plain = event.modifiers() in (Qt.KeyboardModifier.NoModifier,
                                      Qt.KeyboardModifier.KeypadModifier)
        if plain and key == Qt.Key.Key_Delete:
            self.delete_pressed.emit()
            event.accept()
            return
        if plain and key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter_pressed.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class DeadLetterPane(QWidget):
    """Browse, inspect, reprocess, discard and export the engine's dead letters."""

    count_changed = Signal(int)  # dead letters in the queue, as of the last page read
    change_applied = Signal(object)  # AppliedChange of a finished action: a plot marker
    page_loaded = Signal()
    action_finished = Signal(object)  # BulkResult

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._engine: Engine | None = None
        self._order_by = "dead_lettered_at"
        self._descending = False
        self._page = 0
        self._matching = 0
        self._forgotten = 0  # dead letters a bounded store only counts
        self._total = -1
        self._kinds: tuple[str, ...] = ()
        self._selected: dict[str, None] = {}  # task ids, in the order they were selected
        self._current_id: str | None = None
        self._syncing = False
        self._inflight: asyncio.Task[None] | None = None
        self._again = False
        self._stale = True
        self._last_query = 0.0
        self._bulk: BulkAction | None = None
        self.bulk_task: asyncio.Task[BulkResult] | None = None
        self.last_error: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()  # exports under way, kept alive

        self._build()
        self._connect()
        self._update_counts()
        self._update_actions()

    # -- building --------------------------------------------------------------------------------

    def _build(self) -> None:
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter: task id, error text…")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setToolTip("Case-insensitive; applied by the engine to every dead "
                                    "letter, not just this page")
        self.kind_combo = QComboBox()
        self.kind_combo.addItem(ALL_KINDS, None)
        self.kind_combo.setMinimumContentsLength(10)
        self.kind_combo.setToolTip("Only dead letters with this error kind")
        self.counts = QLabel()
        self.first_button = self._nav_button(Qt.ArrowType.NoArrow, "First page", "«")
        self.prev_button = self._nav_button(Qt.ArrowType.LeftArrow, "Previous page")
        self.next_button = self._nav_button(Qt.ArrowType.RightArrow, "Next page")
        self.last_button = self._nav_button(Qt.ArrowType.NoArrow, "Last page", "»")
        self.page_label = QLabel()
        self.page_label.setMinimumWidth(self.fontMetrics().horizontalAdvance(
            "000,001–000,200 of 000,000") + 8)
        self.page_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        top = QHBoxLayout()
        top.addWidget(self.filter_edit, 2)
        top.addWidget(self.kind_combo)
        top.addSpacing(8)
        top.addWidget(self.counts, 2)
        for w in (self.first_button, self.prev_button, self.page_label, self.next_button,
                  self.last_button):
            top.addWidget(w)

        # short labels (the tooltips say the rest): the row fits a 1024-pixel window
        self.reprocess_button = QPushButton("Reprocess")
        self.reprocess_button.setToolTip("Put the selected tasks back in the queue (Enter)")
        self.reprocess_all_button = QPushButton("Reprocess all…")
        self.reprocess_all_button.setToolTip("Every dead letter that matches the filter, in "
                                             "slices; can be cancelled")
        self.reset_box = QCheckBox("Reset attempts")
        self.reset_box.setToolTip("Reprocessed tasks start again with a full set of "
                                  "attempts; otherwise the next failure dead-letters them")
        self.discard_button = QPushButton("Discard…")
        self.discard_button.setToolTip("Delete the selected dead letters for good (Delete)")
        self.discard_all_button = QPushButton("Discard all…")
        self.discard_all_button.setToolTip("Delete every dead letter that matches the filter "
                                           "for good, in slices; can be cancelled")
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Save the selected dead letters as JSON")
        self.progress = BulkProgress()
        self.status = QLabel()
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(120)

        actions = QHBoxLayout()
        actions.addWidget(self.reprocess_button)
        actions.addWidget(self.reprocess_all_button)
        actions.addWidget(self.reset_box)
        actions.addSpacing(12)
        actions.addWidget(self.discard_button)
        actions.addWidget(self.discard_all_button)
        actions.addSpacing(12)
        actions.addWidget(self.export_button)
        actions.addStretch(1)
        # what an action is doing or did: a row of its own, so the buttons fit a small window
        report = QHBoxLayout()
        report.addWidget(self.progress)
        report.addWidget(self.status, 1)

        self.model = DeadLetterModel(self)
        self.table = DeadLetterTable()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        header = self.table.horizontalHeader()
        header.setSectionsClickable(True)
        header.setSortIndicatorShown(True)
        header.setHighlightSections(False)
        header.setMinimumSectionSize(40)
        for i, col in enumerate(COLUMNS):  # the two texts share what the numbers leave
            header.resizeSection(i, col.width)
            header.setSectionResizeMode(i, QHeaderView.ResizeMode.Stretch if col.stretch
                                        else QHeaderView.ResizeMode.Interactive)
        header.setSortIndicator(SORT_COLUMN[self._order_by], Qt.SortOrder.AscendingOrder)

        self.detail = DeadLetterDetail()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(self.table)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 4)  # the table takes the room; details on select
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([1000, 250])

        self.error_label = QLabel()
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c62828;")
        self.error_label.hide()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addLayout(actions)
        layout.addLayout(report)
        layout.addWidget(self.error_label)
        layout.addWidget(self.splitter, 1)

        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DEBOUNCE_MS)
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)

    def _nav_button(self, arrow: Qt.ArrowType, tip: str, text: str = "") -> QToolButton:
        b = QToolButton()
        b.setArrowType(arrow)
        if text:
            b.setText(text)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        return b

    def _connect(self) -> None:
        self.filter_edit.textChanged.connect(lambda _text: self._filter_timer.start())
        self.filter_edit.returnPressed.connect(self._apply_filter_now)
        self._filter_timer.timeout.connect(self._view_changed)
        self.kind_combo.currentIndexChanged.connect(lambda _i: self._view_changed())
        self._refresh_timer.timeout.connect(self.refresh)
        self.first_button.clicked.connect(lambda: self.go_to_page(0))
        self.prev_button.clicked.connect(lambda: self.go_to_page(self._page - 1))
        self.next_button.clicked.connect(lambda: self.go_to_page(self._page + 1))
        self.last_button.clicked.connect(lambda: self.go_to_page(self._last_page()))
        self.table.horizontalHeader().sortIndicatorChanged.connect(self._on_sort)
        sm = self.table.selectionModel()
        sm.selectionChanged.connect(self._on_selection_changed)
        sm.currentRowChanged.connect(self._on_current_changed)
        self.table.delete_pressed.connect(self.discard_selected)
        self.table.enter_pressed.connect(self.reprocess_selected)
        self.reprocess_button.clicked.connect(self.reprocess_selected)
        self.reprocess_all_button.clicked.connect(self.reprocess_matching)
        self.discard_button.clicked.connect(self.discard_selected)
        self.discard_all_button.clicked.connect(self.discard_matching)
        self.export_button.clicked.connect(self._export_clicked)
        self.progress.cancel_requested.connect(self.cancel_action)

    # -- the window's interface ------------------------------------------------------------------

    @property
    def engine(self) -> Engine | None:
        return self._engine

    def set_engine(self, engine: Engine | None) -> None:
        """Show `engine`'s dead letters (a reset or a switch of engine); the view is kept."""
        if self._bulk is not None:
            self._bulk.cancel()
        self._engine = engine
        self._page = 0
        self._matching = 0
        self._forgotten = 0  # dead letters a bounded store only counts
        self._clear_selection()
        self._sync(lambda: self.model.update([]))
        self.detail.clear()
        self._set_error(None)
        self.status.clear()
        self._emit_count(0)
        self._update_counts()
        self._update_actions()
        self._stale = True
        if self.isVisible():
            self._load()

    def refresh(self) -> None:
        """Re-read the page on screen, if it is on screen, not already being read, and
        the last read is at least MIN_REFRESH_S old: cheap enough to call every frame."""
        if self._engine is None:
            return
        if not self.isVisible():
            self._stale = True
            return
        if self._inflight is not None:
            return
        wait = MIN_REFRESH_S - (time.monotonic() - self._last_query)
        if wait > 0:
            if not self._refresh_timer.isActive():
                self._refresh_timer.start(int(wait * 1000) + 1)
            return
        self._load()

    async def reload(self) -> None:
        """Read the page now (or let the read in flight finish) and wait until it is shown."""
        if self._inflight is None:
            self._load()
        while self._inflight is not None:
            await self._inflight

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale and self._engine is not None:
            self._load()

    # -- what is shown ---------------------------------------------------------------------------

    def query(self) -> DeadLetterQuery:
        """The page on screen, as the engine is asked for it."""
        return DeadLetterQuery(
            text=self.filter_edit.text().strip(), error_kind=self.kind_combo.currentData(),
            offset=self._page * PAGE_SIZE, limit=PAGE_SIZE, order_by=self._order_by,
            descending=self._descending)

    @property
    def page(self) -> int:
        return self._page

    @property
    def matching(self) -> int:
        return self._matching

    @property
    def total(self) -> int:
        return max(self._total, 0)

    def selected_ids(self) -> list[str]:
        return list(self._selected)

    def set_sort(self, order_by: str, descending: bool = False) -> None:
        """Sort as if the header of `order_by`'s column was clicked."""
        order = Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder
        self.table.horizontalHeader().setSortIndicator(SORT_COLUMN[order_by], order)

    def go_to_page(self, page: int) -> None:
        page = max(0, min(page, self._last_page()))
        if page != self._page:
            self._page = page
            self._clear_selection()
            self._load()

    def _last_page(self) -> int:
        return max(0, (self._matching - 1) // PAGE_SIZE)

    def _apply_filter_now(self) -> None:
        self._filter_timer.stop()
        self._view_changed()

    def _view_changed(self) -> None:
        self._filter_timer.stop()
        self._page = 0
        self._clear_selection()
        self.table.scrollToTop()
        self._load()

    def _on_sort(self, column: int, order: Qt.SortOrder) -> None:
        key = COLUMNS[column].order_by
        if key is None:  # the engine cannot sort by it: put the indicator back
            header = self.table.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(
                SORT_COLUMN[self._order_by],
                Qt.SortOrder.DescendingOrder if self._descending else Qt.SortOrder.AscendingOrder)
            header.blockSignals(False)
            return
        self._order_by = key
        self._descending = order == Qt.SortOrder.DescendingOrder
        self._view_changed()

    # -- loading ---------------------------------------------------------------------------------

    def _load(self) -> None:
        """Query the page now, or right after the query in flight."""
        if self._engine is None:
            return
        if self._inflight is not None:
            self._again = True
            return
        self._refresh_timer.stop()
        self._stale = False
        self._last_query = time.monotonic()
        task = _start(self._fetch(self._engine, self.query()))
        if task is None:  # no running event loop (a synchronous caller): load when shown
            self._stale = True
            return
        self._inflight = task

    async def _fetch(self, engine: Engine, query: DeadLetterQuery) -> None:
        try:
            page = await engine.dead_letters(query)
            if engine is not self._engine:
                return
            if query != self.query():
                self._again = True
                return
            self._show_page(page)
            self._set_error(None)
        except Exception as exc:  # a live backend failed: say so, try again next refresh
            if engine is self._engine:
                log.warning("reading dead letters failed", exc_info=exc)
                self._set_error(f"Could not read the dead letters: {type(exc).__name__}: {exc}")
        finally:
            self._inflight = None
            if self._again:
                self._again = False
                self._load()

    def _show_page(self, page: DeadLetterPage) -> None:
        self._matching = page.total_matching
        self._forgotten = page.forgotten
        if not page.items and self._page > 0 and page.total_matching:
            self._page = self._last_page()  # the page emptied (tasks left): show the last one
            self._again = True
            return
        bar = self.table.verticalScrollBar()
        scroll = bar.value()
        top = self.table.rowAt(0)
        anchor = self.model.dead_letter(top).id if 0 <= top < self.model.rowCount() else None
        if self._sync(lambda: self.model.update(list(page.items))):
            self._restore_view(anchor if scroll > 0 else None, scroll)
        self._update_detail()
        self._update_kinds(page.error_kinds)
        self._emit_count(page.total)
        self._update_counts()
        self._update_actions()
        self.page_loaded.emit()

    def _restore_view(self, anchor: str | None, scroll: int) -> None:
        """After a rebuilt page: the same tasks selected, the same task at the top."""
        sm = self.table.selectionModel()
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for task_id in self._selected:
            row = self.model.row_of(task_id)
            if row is not None:
                selection.select(self.model.index(row, 0), self.model.index(row, last))
        self._syncing = True
        try:
            sm.select(selection, _SELECT_ROWS)
            row = None if self._current_id is None else self.model.row_of(self._current_id)
            if row is not None:
                sm.setCurrentIndex(self.model.index(row, 0),
                                   QItemSelectionModel.SelectionFlag.NoUpdate)
        finally:
            self._syncing = False
        self.table.doItemsLayout()
        row = None if anchor is None else self.model.row_of(anchor)
        if row is not None:
            self.table.scrollTo(self.model.index(row, 0),
                                QAbstractItemView.ScrollHint.PositionAtTop)
        else:
            self.table.verticalScrollBar().setValue(scroll)

    def _update_detail(self) -> None:
        row = None if self._current_id is None else self.model.row_of(self._current_id)
        if row is None:
            if self.detail.shown_id is not None:
                self.detail.clear()
            return
        self.detail.show_dead_letter(self.model.dead_letter(row))

    def _update_kinds(self, kinds: tuple[str, ...]) -> None:
        current = self.kind_combo.currentData()
        wanted = tuple(sorted(set(kinds) | ({current} if current else set())))
        if wanted == self._kinds:
            return
        self._kinds = wanted
        self.kind_combo.blockSignals(True)
        try:
            self.kind_combo.clear()
            self.kind_combo.addItem(ALL_KINDS, None)
            for kind in wanted:
                self.kind_combo.addItem(kind, kind)
            self.kind_combo.setCurrentIndex(max(0, self.kind_combo.findData(current)))
        finally:
            self.kind_combo.blockSignals(False)

    def _emit_count(self, total: int) -> None:
        if total != self._total:
            self._total = total
            self.count_changed.emit(total)

    def _update_counts(self) -> None:
        self.counts.setText(f"total {self.total:,} · shown {self._matching:,} · "
                            f"selected {len(self._selected):,}")
        self.counts.setToolTip(
            f"Memory stays bounded: the newest {self.total - self._forgotten:,} are kept; "
            f"the {self._forgotten:,} older dead letters are counted only (in the books and "
            "the error kinds) and can no longer be shown, reprocessed or deleted."
            if self._forgotten else "")
        if self._forgotten:
            self.counts.setText(self.counts.text() + f" · {self._forgotten:,} oldest "
                                "counted only")
        first = self._page * PAGE_SIZE
        rows = self.model.rowCount()
        if rows:
            self.page_label.setText(f"{first + 1:,}–{first + rows:,} of {self._matching:,}")
        else:
            self.page_label.setText(f"0 of {self._matching:,}")
        self.first_button.setEnabled(self._page > 0)
        self.prev_button.setEnabled(self._page > 0)
        self.next_button.setEnabled(self._page < self._last_page())
        self.last_button.setEnabled(self._page < self._last_page())

    def _update_actions(self) -> None:
        idle = self._bulk is None and self._engine is not None
        some = bool(self._selected)
        self.reprocess_button.setEnabled(idle and some)
        self.discard_button.setEnabled(idle and some)
        self.export_button.setEnabled(self._engine is not None and some)
        self.reprocess_all_button.setEnabled(idle and self._matching > 0)
        self.discard_all_button.setEnabled(idle and self._matching > 0)

    def _set_error(self, text: str | None) -> None:
        self.last_error = text
        self.error_label.setText(text or "")
        self.error_label.setVisible(bool(text))

    # -- selection -------------------------------------------------------------------------------

    def _sync(self, update: Any) -> Any:
        """Run a model update without mistaking Qt's selection bookkeeping for the user's."""
        self._syncing = True
        try:
            return update()
        finally:
            self._syncing = False

    def _on_selection_changed(self, _selected: QItemSelection,
                              _deselected: QItemSelection) -> None:
        if self._syncing:
            return
        rows = {i.row() for i in self.table.selectionModel().selectedRows()}
        for i, d in enumerate(self.model.rows):
            if i in rows:
                self._selected[d.id] = None
            else:
                self._selected.pop(d.id, None)
        self._update_counts()
        self._update_actions()

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if self._syncing or not current.isValid():
            return
        d = self.model.dead_letter(current.row())
        self._current_id = d.id
        self.detail.show_dead_letter(d)

    def _clear_selection(self) -> None:
        self._selected.clear()
        self._current_id = None
        self._sync(self.table.selectionModel().clear)
        self.detail.clear()
        self._update_counts()
        self._update_actions()

    # -- actions ---------------------------------------------------------------------------------

    def reprocess_selected(self) -> asyncio.Task[BulkResult] | None:
        """Back into the queue with the selected tasks (Enter)."""
        ids = self.selected_ids()
        if not ids or not self._can_act():
            return None
        return self._start_bulk(REPROCESS, ids=ids)

    def reprocess_matching(self) -> asyncio.Task[BulkResult] | None:
        n = self._matching
        if not n or not self._can_act() or not confirm(self, "Reprocess dead letters",
                                f"Reprocess all {_plural(n)}{self._matching_words()}? They "
                                "go back into the queue"
                                f"{' with their attempts reset' if self._reset() else ''}."):
            return None
        return self._start_bulk(REPROCESS, query=self.query())

    def discard_selected(self) -> asyncio.Task[BulkResult] | None:
        """Delete the selected dead letters for good, once confirmed (Delete)."""
        ids = self.selected_ids()
        if not ids or not self._can_act() or not confirm(self, "Discard dead letters",
                                  f"Discard {_plural(len(ids))}? They leave the system "
                                  "for good (the totals count them as discarded)."):
            return None
        return self._start_bulk(DISCARD, ids=ids)

    def discard_matching(self) -> asyncio.Task[BulkResult] | None:
        n = self._matching
        if not n or not self._can_act() or not confirm(self, "Discard dead letters",
                                f"Discard all {_plural(n)}{self._matching_words()}? They "
                                "leave the system for good (the totals count them as "
                                "discarded)."):
            return None
        return self._start_bulk(DISCARD, query=self.query())

    def cancel_action(self) -> None:
        """Stop the running bulk action after its current slice."""
        if self._bulk is not None:
            self._bulk.cancel()

    @property
    def action_running(self) -> bool:
        return self._bulk is not None

    def _can_act(self) -> bool:
        return self._engine is not None and self._bulk is None

    def _reset(self) -> bool:
        return self.reset_box.isChecked()

    def _matching_words(self) -> str:
        q = self.query()
        words = ""
        if q.text:
            words += f" matching “{q.text}”"
        if q.error_kind:
            words += f" of kind {q.error_kind}"
        return words

    def _start_bulk(self, action: str, *, ids: list[str] | None = None,
                    query: DeadLetterQuery | None = None) -> asyncio.Task[BulkResult] | None:
        engine = self._engine
        if engine is None or self._bulk is not None:
            return None
        bulk = BulkAction(engine, action, ids=ids, query=query,
                          reset_attempts=action == REPROCESS and self._reset(),
                          on_progress=self.progress.update_progress)
        task = _start(self._run_bulk(bulk, engine.now, engine.totals().dead_lettered))
        if task is None:
            self.status.setText("No event loop is running: the action did not start")
            return None
        self._bulk = bulk
        self.bulk_task = task
        self.status.clear()
        self.progress.start(action)
        self._update_actions()
        return task

    async def _run_bulk(self, bulk: BulkAction, t: float, dead_before: int) -> BulkResult:
        try:
            result = await bulk.run()
        finally:
            self._bulk = None
            self.progress.hide()
        for task_id in bulk.acted_ids:
            self._selected.pop(task_id, None)
        self.status.setText(result.describe())
        self.status.setStyleSheet("color: #c62828;" if result.error else "")
        if result.acted and bulk.engine is self._engine:
            self.change_applied.emit(AppliedChange(t, f"dead_letters.{bulk.action}",
                                                   dead_before, dead_before - result.acted))
        self._update_counts()
        self._update_actions()
        self.action_finished.emit(result)
        self._load()
        return result

    # -- export ----------------------------------------------------------------------------------

    def _export_clicked(self) -> None:
        n = len(self._selected)
        if not n:
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Export {_plural(n)}", "dead-letters.json",
                                              "JSON files (*.json);;All files (*)")
        task = _start(self.export_to(path)) if path else None
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def export_to(self, path: str | Path) -> int:
        """Write the selected dead letters to `path` as a JSON list of `DeadLetter.to_dict()`.

        Rows on this page in their order first, then selected tasks the page no longer
        shows; each is read from the engine as it is now, and tasks that left the queue
        meanwhile are skipped.
        """
        engine = self._engine
        if engine is None:
            return 0
        on_page = set(self.model.ids())
        ids = [i for i in self.model.ids() if i in self._selected]
        ids += [i for i in self._selected if i not in on_page]
        try:
            n = await export_dead_letters(engine, ids, Path(path))
        except Exception as exc:
            self.status.setText(f"Export failed: {type(exc).__name__}: {exc}")
            self.status.setStyleSheet("color: #c62828;")
            return 0
        self.status.setText(f"Exported {_plural(n)} to {Path(path).name}")
        self.status.setStyleSheet("")
        return n


def _start(coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
    """Run `coro` on the running (qasync) loop; without one, close it unrun and say None."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        coro.close()
        return None
    return loop.create_task(coro)

