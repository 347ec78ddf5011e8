"""Simulated runs off the GUI thread: a QThread that walks an iterator of results.

The runs themselves go to `tuning`'s process pool (every core); this thread only waits on
it and hands each result to the window as a queued signal, so the window's event loop never
waits on a run. `stop` closes the iterator, which shuts the pool down (runs not started are
cancelled; a run under way finishes first).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal

log = logging.getLogger(__name__)

WORKER_NICE = 10
"""The window's runs take every core, at a lower priority: the window itself stays live."""


class ResultsThread(QThread):
    """Emits `result` for every item `make()`'s iterator yields, then `done(error)`."""

    result = Signal(object)
    done = Signal(str)  # '' when it ended by itself or was stopped, else the error in words

    def __init__(self, make: Callable[[], Iterator[Any]], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._make = make
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        error = ""
        items = self._make()
        try:
            for item in items:
                if self._stop.is_set():
                    break
                self.result.emit(item)
        except Exception as exc:  # reported in the window; the app goes on
            log.exception("background runs failed")
            error = f"{type(exc).__name__}: {exc}"
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()
        self.done.emit(error)
