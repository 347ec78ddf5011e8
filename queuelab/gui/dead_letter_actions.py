"""Bulk reprocess and discard, in slices that give the event loop back between them; export.

A hundred thousand ids handed to the engine in one call would freeze the window (and
a live backend would take one enormous transaction). Instead the ids are fetched from the
engine page by page, acted on a slice at a time, and the loop runs timers, paints and
input in between: the progress bar moves and Cancel works.

Nothing is lost by cancelling: each slice is one engine call that moves every task it
names either entirely or not at all, and a cancel is only honoured between two slices —
the asyncio task is never cancelled in the middle of a call.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

if TYPE_CHECKING:
    from pathlib import Path

    from queuelab.core.engine import Engine
    from queuelab.core.task import DeadLetterQuery

REPROCESS = "reprocess"
DISCARD = "discard"
SLICE = 500  # ids per engine call
FETCH = 500  # ids per page query: each builds full records, so small pages keep calls short
PAST = {REPROCESS: "reprocessed", DISCARD: "discarded"}

Progress = Callable[[int, int, int], None]  # (attempted, total, acted)


@dataclass(frozen=True, slots=True)
class BulkResult:
    action: str
    acted: int  # dead letters the engine moved back to the queue or discarded
    attempted: int  # ids handed to the engine (some may have left the queue meanwhile)
    total: int  # how many the action set out to handle
    cancelled: bool
    error: str | None = None

    def describe(self) -> str:
        text = f"{PAST[self.action].capitalize()} {self.acted:,} dead letter" + (
            "" if self.acted == 1 else "s")
        if self.cancelled:
            text += f" — cancelled after {self.attempted:,} of {self.total:,}"
        elif self.attempted > self.acted:
            text += f" ({self.attempted - self.acted:,} had already left the queue)"
        if self.error:
            text += f" — stopped: {self.error}"
        return text


class BulkAction:
    """One reprocess or discard of given ids, or of every dead letter matching a query.

    For a query, the number matching when it starts is the budget: tasks that die again
    while it runs (a poison pill reprocessed fails again) are new dead letters, not ones
    to pick up a second time, and each id is handed to the engine at most once.
    """

    def __init__(self, engine: Engine, action: str, *, ids: Sequence[str] | None = None,
                 query: DeadLetterQuery | None = None, reset_attempts: bool = False,
                 on_progress: Progress | None = None, slice_size: int = SLICE,
                 fetch_size: int = FETCH) -> None:
        if (ids is None) == (query is None):
            raise ValueError("a bulk action takes either ids or a query")
        if action not in PAST:
            raise ValueError(f"unknown bulk action {action!r}")
        self.engine = engine
        self.action = action
        self._ids = None if ids is None else list(dict.fromkeys(ids))
        self._query = query
        self._reset = reset_attempts
        self._progress = on_progress
        self._slice = slice_size
        self._fetch = fetch_size
        self._cancel = False
        self.acted = 0
        self.attempted = 0
        self.total = 0 if ids is None else len(self._ids or ())
        self.acted_ids: list[str] = []  # the ids handed to the engine, in order

    def cancel(self) -> None:
        """Stop after the slice in progress."""
        self._cancel = True

    @property
    def cancelled(self) -> bool:
        return self._cancel

    async def run(self) -> BulkResult:
        error = None
        try:
            if self._ids is not None:
                await self._act(self._ids)
            else:
                await self._run_query()
        except Exception as exc:  # a live backend failed: report it, keep what was done
            error = f"{type(exc).__name__}: {exc}"
        stopped = self._cancel and self.attempted < self.total
        return BulkResult(self.action, self.acted, self.attempted, self.total, stopped, error)

    async def _run_query(self) -> None:
        assert self._query is not None
        # Oldest first: the engine's natural order (no sort), and a task that dies again
        # while this runs goes to the end, behind the ones still to do.
        query = replace(self._query, offset=0, limit=self._fetch,
                        order_by="dead_lettered_at", descending=False)
        page = await self.engine.dead_letters(query)
        self.total = page.total_matching
        self._report()
        seen: set[str] = set()
        offset = 0
        while page.items and self.attempted < self.total and not self._cancel:
            fresh = [d.id for d in page.items if d.id not in seen]
            fresh = fresh[: self.total - self.attempted]
            if fresh:
                seen.update(fresh)
                await self._act(fresh)
            else:  # every one of these was handed over and is still here: look past them
                offset += len(page.items)
            if self._cancel or self.attempted >= self.total:
                break
            page = await self.engine.dead_letters(replace(query, offset=offset))

    async def _act(self, ids: list[str]) -> None:
        for start in range(0, len(ids), self._slice):
            if self._cancel:
                return
            chunk = ids[start: start + self._slice]
            if self.action == REPROCESS:
                n = await self.engine.reprocess(chunk, reset_attempts=self._reset)
            else:
                n = await self.engine.discard(chunk)
            self.acted += n
            self.attempted += len(chunk)
            self.acted_ids.extend(chunk)
            self._report()
            await asyncio.sleep(0)  # the simulator answers at once: give the loop its turn

    def _report(self) -> None:
        if self._progress is not None:
            self._progress(self.attempted, self.total, self.acted)


async def export_dead_letters(engine: Engine, ids: Sequence[str], path: Path) -> int:
    """Write these dead letters, as the engine has them now, to `path` as a JSON list of
    `DeadLetter.to_dict()`; ids no longer in the dead-letter queue are skipped. Returns how
    many were written."""
    records = []
    for task_id in ids:
        d = await engine.get_dead_letter(task_id)
        if d is not None:
            records.append(d.to_dict())
    path.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(records)


class BulkProgress(QWidget):
    """What a running bulk action shows: what it does, how far it is, and Cancel."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._verb = ""
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMinimumWidth(160)
        self.bar.setFormat("%p %")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop after the slice in progress; nothing is lost")
        self.cancel_button.clicked.connect(self._cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.hide()

    def start(self, action: str) -> None:
        self._verb = "Reprocessing" if action == REPROCESS else "Discarding"
        self.label.setText(f"{self._verb}…")
        self.bar.setRange(0, 0)  # busy until the total is known
        self.cancel_button.setEnabled(True)
        self.show()

    def update_progress(self, attempted: int, total: int, acted: int) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(min(attempted, max(total, 1)))
        if self.cancel_button.isEnabled():
            self.label.setText(f"{self._verb} {attempted:,} / {total:,}")

    def _cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText("Cancelling…")
        self.cancel_requested.emit()
