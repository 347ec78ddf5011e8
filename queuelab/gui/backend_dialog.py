"""The backend chooser: which queue a live run uses, its URL, and a connection test.

The URL field never shows a password: a URL typed with one is split at once, the password
kept in the (masked) password field and the URL shown with `***` in its place. The full URL
exists only in memory and leaves this dialog only through `url()`.

The connection test runs as a coroutine on the app's (qasync) loop with a time limit, so
an unreachable server costs a few seconds of a label saying so, never a frozen window.

The queue name (`?queue=`) has its own field. Redis and RabbitMQ fix a queue's discipline
when it is first used: when the test meets a queue of another discipline it says so and
offers a fresh name. After a failed test, "Use this backend" takes the URL as it is,
whichever the backend (the failure stays on screen; a run says it again when it starts).
"""

from __future__ import annotations

import asyncio
from html import escape
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from queuelab.core.urls import redact_url
from queuelab.gui.backend_urls import (
    KINDS,
    MASK,
    OPTION_FIELDS,
    TEST_TIMEOUT,
    Probe,
    check_scheme,
    fresh_queue_name,
    kind_of,
    password_of,
    probe_queue,
    queue_name,
    url_option,
    with_option,
    with_password,
    with_queue_name,
    without_password,
)
from queuelab.gui.plot_style import for_palette

_OK_COLOR, _BAD_COLOR = QColor("#2e7d32"), QColor("#c62828")


def default_sqlite_file() -> Path:
    """The file `sqlite:///` uses (the backend decides; asked lazily: it imports SQLAlchemy)."""
    from queuelab.backends.sql.config import default_sqlite_file as where

    return where()


def sqlite_url(path: str | Path) -> str:
    """`sqlite:///` followed by the absolute path (four slashes on POSIX, as SQLAlchemy reads)."""
    return "sqlite:///" + Path(path).expanduser().resolve().as_posix()


def sqlite_path(url: str) -> str:
    """The file a `sqlite:///…` URL names ('' for the default file)."""
    rest = url.partition("://")[2].split("?", 1)[0]
    return rest[1:] if rest.startswith("/") else rest


class BackendDialog(QDialog):
    """Choose the scenario's backend; `chosen(url)` carries the full URL (password included)."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("backend_dialog")
        self.setWindowTitle("Queue backend")
        self.setMinimumWidth(560)
        self._bare = "memory://"  # the URL without its password
        self._shown = ""  # what the URL field shows (redacted)
        self._test: asyncio.Task[Probe] | None = None
        self._by_kind: dict[str, str] = {}  # the URL last used per kind, while open
        self._discipline = "fifo"
        self.timeout = TEST_TIMEOUT  # seconds a connection test waits
        self.last_result: tuple[bool, str] | None = None  # the last test: worked?, in words

        self.kind_box = QComboBox()
        for k in KINDS:
            self.kind_box.addItem(k.label, k.key)
        self.hint = QLabel()
        self.hint.setWordWrap(True)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.hint.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.sqlite_box = QWidget()
        self.sqlite_default = QRadioButton("Default file")
        self.sqlite_file = QRadioButton("This file:")
        group = QButtonGroup(self.sqlite_box)
        group.addButton(self.sqlite_default)
        group.addButton(self.sqlite_file)
        self.sqlite_default.setChecked(True)
        self.sqlite_path = QLineEdit()
        self.sqlite_path.setPlaceholderText("queue.sqlite3")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse_sqlite)
        sq = QVBoxLayout(self.sqlite_box)
        sq.setContentsMargins(0, 0, 0, 0)
        sq.addWidget(self.sqlite_default)
        row = QHBoxLayout()
        row.addWidget(self.sqlite_file)
        row.addWidget(self.sqlite_path, 1)
        row.addWidget(browse)
        sq.addLayout(row)

        self.url_edit = QLineEdit()
        self.url_edit.setObjectName("backend_url")
        self.url_edit.setToolTip("The queue's URL. A password typed here is moved to the "
                                 "password field and shown as ***; it is never saved.")
        self.password_edit = QLineEdit()
        self.password_edit.setObjectName("backend_password")
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("none")
        self.password_edit.setToolTip("Kept in memory for this session only: never written to "
                                      "a scenario file, the settings or a log.")
        self.password_label = QLabel("Password")
        self.queue_edit = QLineEdit()
        self.queue_edit.setObjectName("backend_queue")
        self.queue_edit.setPlaceholderText("default")
        self.queue_edit.setToolTip("The queue inside the backend (the URL's ?queue= option); "
                                   "queues of one server never meet.")
        self.option_edits: dict[str, QLineEdit] = {}  # the kinds' own URL options
        for kind_key, fields in OPTION_FIELDS.items():
            for option, _, placeholder in fields:
                edit = QLineEdit()
                edit.setObjectName(f"backend_{kind_key}_{option}")
                edit.setPlaceholderText(placeholder)
                edit.setToolTip(f"The URL's ?{option}= option")
                edit.editingFinished.connect(lambda o=option: self._option_set(o))
                self.option_edits[f"{kind_key}.{option}"] = edit
        self.fresh_button = QPushButton()
        self.fresh_button.setObjectName("backend_fresh_queue")
        self.fresh_button.setVisible(False)
        self._fresh = ""

        self.test_button = QPushButton("Test connection")
        self.test_button.setToolTip(f"Open the queue, count its tasks and close it (gives up "
                                    f"after {TEST_TIMEOUT:g} s)")
        self.test_result = QLabel()
        self.test_result.setObjectName("backend_test_result")
        self.test_result.setWordWrap(True)
        self.test_result.setTextFormat(Qt.TextFormat.RichText)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.test_result.setMinimumHeight(self.test_result.fontMetrics().height() * 2 + 6)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignTop)
        test_row.addWidget(self.test_result, 1)
        fresh_row = QHBoxLayout()
        fresh_row.addWidget(self.fresh_button)
        fresh_row.addStretch(1)

        self.idle_note = QLabel()
        self.idle_note.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.use_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.use_button.setText("Use this backend")

        form = QFormLayout()
        form.addRow("Backend", self.kind_box)
        form.addRow("", self.hint)
        form.addRow("File", self.sqlite_box)
        form.addRow("URL", self.url_edit)
        form.addRow(self.password_label, self.password_edit)
        form.addRow("Queue name", self.queue_edit)
        for kind_key, fields in OPTION_FIELDS.items():
            for option, label, _ in fields:
                form.addRow(label, self.option_edits[f"{kind_key}.{option}"])
        self._form = form
        lay = QVBoxLayout(self)
        lay.addLayout(form)
        lay.addLayout(test_row)
        lay.addLayout(fresh_row)
        lay.addStretch(1)
        lay.addWidget(self.idle_note)
        lay.addWidget(self.buttons)

        self.kind_box.activated.connect(self._kind_chosen)
        self.url_edit.editingFinished.connect(self._absorb)
        self.password_edit.textEdited.connect(lambda _: self._show_url())
        self.sqlite_default.toggled.connect(self._sqlite_changed)
        self.sqlite_path.editingFinished.connect(self._sqlite_changed)
        self.test_button.clicked.connect(self.test_connection)
        self.queue_edit.editingFinished.connect(self._queue_named)
        self.fresh_button.clicked.connect(self.use_fresh_name)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)

    # -- what the window sets -------------------------------------------------------------------

    def set_url(self, url: str, discipline: str = "fifo") -> None:
        """Show `url` (password included, kept in memory) for the scenario's `discipline`."""
        self._discipline = discipline
        self._by_kind.clear()
        self._set_full(url)
        self.test_result.clear()

    def set_changeable(self, changeable: bool) -> None:
        """The backend is fixed while a run goes on: testing is still allowed."""
        self.use_button.setEnabled(changeable)
        self.idle_note.setText("" if changeable else
                               "A run is going on: reset it (Ctrl+R) to change the backend.")
        self.idle_note.setVisible(not changeable)

    def url(self) -> str:
        """The chosen URL with its password: for the connection only, never to be shown."""
        self._absorb()
        return with_password(self._bare, self.password_edit.text())

    # -- editing --------------------------------------------------------------------------------

    def _set_full(self, url: str) -> None:
        self._bare = without_password(url)
        password = password_of(url) or ""
        if self.password_edit.text() != password:
            self.password_edit.setText(password)
        kind = kind_of(url)
        if kind is not None:
            self.kind_box.setCurrentIndex(self.kind_box.findData(kind.key))
            self._by_kind[kind.key] = url
        self._update_kind()
        self._show_url()

    def _show_url(self) -> None:
        self._shown = redact_url(with_password(self._bare, self.password_edit.text()))
        if self.url_edit.text() != self._shown:
            self.url_edit.setText(self._shown)
        name = queue_name(self._bare)
        if self.queue_edit.text() != name:
            self.queue_edit.setText(name)
        for key, edit in self.option_edits.items():
            value = url_option(self._bare, key.partition(".")[2])
            if edit.text() != value:
                edit.setText(value)

    def _option_set(self, option: str) -> None:
        kind = kind_of(self._bare)
        edit = self.option_edits.get(f"{kind.key if kind else ''}.{option}")
        if edit is not None and edit.text().strip() != url_option(self._bare, option):
            self._set_full(with_option(self.url(), option, edit.text().strip()))

    def _queue_named(self) -> None:
        name = self.queue_edit.text().strip()
        if name != queue_name(self._bare):
            self._set_full(with_queue_name(self.url(), name))

    def use_fresh_name(self) -> None:
        """Switch to the fresh queue name the last test offered, and test it."""
        if self._fresh:
            self._set_full(with_queue_name(self.url(), self._fresh))
            self.test_connection()

    def _absorb(self) -> None:
        """Take what was typed in the URL field: a password goes to its field, `***` means
        the password already there."""
        text = self.url_edit.text().strip()
        if text == self._shown:
            return
        password = password_of(text)
        if password is not None and password != MASK:
            self.password_edit.setText(password)
        self._set_full(with_password(text, self.password_edit.text()))

    def _kind_chosen(self, index: int) -> None:
        key = self.kind_box.itemData(index)
        current = kind_of(self._bare)
        if current is not None and current.key == key:
            return
        if current is not None:
            self._by_kind[current.key] = self.url()
        kind = next(k for k in KINDS if k.key == key)
        self.password_edit.clear()
        self._set_full(self._by_kind.get(key, kind.default_url))
        self.test_result.clear()

    def _update_kind(self) -> None:
        kind = kind_of(self._bare)
        key = kind.key if kind else ""
        hint = kind.hint if kind else "Choose one of the backends above."
        if key == "memory":
            hint += f" This scenario's discipline: {self._discipline}."
        self.hint.setText(hint)
        sqlite = key == "sqlite"
        self._form.setRowVisible(self.sqlite_box, sqlite)
        secret = key in ("postgresql", "redis", "amqp", "nats")
        self._form.setRowVisible(self.password_edit, secret)
        self._form.setRowVisible(self.queue_edit, bool(key) and key != "memory")
        for field_key, edit in self.option_edits.items():
            self._form.setRowVisible(edit, field_key.partition(".")[0] == key)
        if sqlite:
            path = sqlite_path(self._bare)
            if path:  # no path: the radio buttons stay as the person left them
                for w in (self.sqlite_default, self.sqlite_file, self.sqlite_path):
                    w.blockSignals(True)
                self.sqlite_file.setChecked(True)
                self.sqlite_path.setText(path)
                for w in (self.sqlite_default, self.sqlite_file, self.sqlite_path):
                    w.blockSignals(False)
            self.sqlite_default.setText(f"Default file ({default_sqlite_file()})")

    def _sqlite_changed(self, *_: object) -> None:
        path = self.sqlite_path.text().strip()
        url = "sqlite:///" if self.sqlite_default.isChecked() or not path else sqlite_url(path)
        query = self._bare.partition("?")[2]
        self._set_full(url + (f"?{query}" if query else ""))

    def _browse_sqlite(self) -> None:
        start = sqlite_path(self._bare) or str(Path.home() / "queue.sqlite3")
        path, _ = QFileDialog.getSaveFileName(
            self, "SQLite queue file", start, "SQLite databases (*.sqlite3 *.sqlite *.db);;"
            "All files (*)", options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.sqlite_path.setText(path)
            self.sqlite_file.setChecked(True)
            self._sqlite_changed()

    # -- testing and choosing -------------------------------------------------------------------

    def test_connection(self) -> asyncio.Task[Probe] | None:
        """Start a connection test on the running loop; its result shows below the button."""
        url = self.url()
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._show_result(False, "The connection test needs the app's event loop.")
            return None
        self.test_button.setEnabled(False)
        self.fresh_button.setVisible(False)
        self.test_result.setText(escape(f"Connecting to {redact_url(url)} …"))
        task = loop.create_task(probe_queue(url, self.timeout, self._discipline))
        self._test = task
        task.add_done_callback(self._tested)
        return task

    def _tested(self, task: asyncio.Task[Probe]) -> None:
        if task is not self._test:
            return
        self._test = None
        self.test_button.setEnabled(True)
        if task.cancelled():
            got = Probe(False, "The test was cancelled.")
        elif task.exception() is not None:
            got = Probe(False, f"{type(task.exception()).__name__}: the test failed")
        else:
            got = task.result()
        self._show_result(got.ok, got.text)
        if got.mismatch is not None:
            self._fresh = fresh_queue_name(got.mismatch.queue, self._discipline)
            self.fresh_button.setText(f"Use a fresh queue: {self._fresh!r}")
            self.fresh_button.setVisible(True)

    def _show_result(self, ok: bool, text: str) -> None:
        color = for_palette(_OK_COLOR if ok else _BAD_COLOR, self.palette()).name()
        mark = "✓" if ok else "✗"
        self.test_result.setText(f"<b style='color:{color}'>{mark}</b> {escape(text)}")
        self.last_result = (ok, text)

    def _accept(self) -> None:
        url = self.url()
        reason = check_scheme(url)
        if reason is not None:
            self._show_result(False, reason)
            return
        self.chosen.emit(url)
        self.accept()
