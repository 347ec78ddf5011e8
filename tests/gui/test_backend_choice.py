"""The backend chooser: URL and password, the connection test, and live runs on a backend.

A password typed anywhere stays in memory: no widget, title, status message, saved scenario
or settings file may ever show it. Servers are the real ones of this machine (skipped where
they do not run, failed under QUEUELAB_REQUIRE_SERVICES=1); unreachable ones are closed
ports or a silent listener on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QMessageBox,
    QWidget,
)

from queuelab.core.engine import RunState
from queuelab.gui import engines, files
from queuelab.gui.backend_urls import BackendSecrets, probe, with_password
from queuelab.gui.engines import LIVE, SIMULATED, unavailable_reason
from queuelab.gui.main_window import MainWindow

from ..services import needs
from .helpers import scenario, wait_until

pytestmark = pytest.mark.asyncio

PASSWORD = "Pw-" + secrets.token_hex(4)
RUN = f"{os.getpid()}-{secrets.token_hex(3)}"
SHORT_LIVE = {"run": {"duration": 20.0, "warmup": 0.0, "time_scale": 0.05},
              "arrivals": {"rate": 10.0}, "service": {"mean": 0.1}}


def _boxes(w: MainWindow) -> list[QMessageBox]:
    return [b for b in w.findChildren(QMessageBox) if b.isVisible()]


def _close_boxes(w: MainWindow) -> None:
    for b in _boxes(w):
        b.close()


def _shown_widgets() -> list[QWidget]:
    """The visible windows and everything in them. Not `QApplication.allWidgets()`: that
    also lists the hidden leftovers of earlier tests, and walking those once crashed the
    interpreter (a segfault in `toolTip()`, in a full run only)."""
    out: list[QWidget] = []
    for top in QApplication.topLevelWidgets():
        if top.isVisible():
            out.append(top)
            out += top.findChildren(QWidget)
    return out


def shown_texts(w: MainWindow) -> list[str]:
    """Everything the app shows in words: widgets (a line edit as displayed, so a masked
    password field shows bullets), tooltips, actions, window titles and the status bar."""
    out = [w.windowTitle(), w.statusBar().currentMessage()]
    shown = _shown_widgets()
    assert w in shown, "the window under test is not shown: nothing would be checked"
    for widget in shown:
        out += [widget.windowTitle(), widget.toolTip()]
        if isinstance(widget, QLineEdit):
            out += [widget.displayText(), widget.placeholderText()]
        elif isinstance(widget, QLabel | QAbstractButton):
            out.append(widget.text())
        elif isinstance(widget, QComboBox):
            out += [widget.itemText(i) for i in range(widget.count())]
    for act in w.findChildren(type(w.controls.run_action)):
        out += [act.text(), act.toolTip()]
    return out


def assert_secret_kept(w: MainWindow, secret: str, saved: Path | None = None) -> None:
    leaks = [t for t in shown_texts(w) if secret in t]
    assert not leaks, leaks
    w.save_settings()
    assert secret not in Path(files.settings().fileName()).read_text(encoding="utf-8")
    if saved is not None:
        assert secret not in saved.read_text(encoding="utf-8")


# -- pure pieces ----------------------------------------------------------------------------


async def test_secrets_keep_the_password_out_of_the_scenario() -> None:
    s = BackendSecrets()
    full = f"postgresql://bob:{PASSWORD}@127.0.0.1:5432/test"
    assert s.remember(full) == "postgresql://bob@127.0.0.1:5432/test"
    assert s.full("postgresql://bob@127.0.0.1:5432/test") == full
    # the masked form sent back unchanged means "the password I had"
    assert s.remember("postgresql://bob:***@127.0.0.1:5432/test", full) == \
        "postgresql://bob@127.0.0.1:5432/test"
    assert s.full("postgresql://bob@127.0.0.1:5432/test") == full
    assert with_password("redis://127.0.0.1:6379/0", "a b@c") == "redis://:a%20b%40c@127.0.0.1:6379/0"


async def test_probe_opens_memory_and_sqlite_and_explains_refusals(tmp_path: Path) -> None:
    ok, text = await probe("memory://gui-probe")
    assert ok and "0 ready" in text, text
    db = tmp_path / "probe.sqlite3"
    ok, text = await probe(f"sqlite:///{db}")
    assert ok and text.startswith(f"Connected to sqlite:///{db}"), text
    for url, words in ((f"postgresql://bob:{PASSWORD}@127.0.0.1:1/x", "refused"),
                       (f"redis://:{PASSWORD}@127.0.0.1:1", "cannot reach")):
        began = time.perf_counter()
        ok, text = await probe(url)
        assert not ok and words in text and "127.0.0.1:1" in text, text
        assert PASSWORD not in text and "\n" not in text
        assert time.perf_counter() - began < 5.5
    ok, text = await probe("ftp://example")
    assert not ok and "unknown scheme" in text


@pytest_asyncio.fixture
async def silent_port() -> AsyncIterator[int]:
    """A listener on 127.0.0.1 that accepts connections and never answers."""
    held: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    for writer in held:
        writer.close()
    server.close()


async def test_a_server_that_never_answers_costs_the_timeout_not_the_window(
        window: MainWindow, silent_port: int) -> None:
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    d = window.show_backend_dialog()
    d.timeout = 1.0
    d.url_edit.setText(f"redis://:{PASSWORD}@127.0.0.1:{silent_port}/0")
    d.url_edit.editingFinished.emit()
    began = time.perf_counter()
    d.test_connection()
    assert not d.test_button.isEnabled() and "Connecting to" in d.test_result.text()
    await wait_until(d.test_button.isEnabled, timeout=5, what="the test to give up")
    timer.stop()
    assert 0.9 < time.perf_counter() - began < 5.0  # its 1 s, then it gave up
    assert d.last_result is not None and not d.last_result[0]
    assert "no answer within 1 s" in d.last_result[1] and PASSWORD not in d.test_result.text()
    gaps = [b - a for a, b in itertools.pairwise(ticks)]
    assert len(ticks) > 20 and max(gaps) < 0.5, f"the loop stalled {max(gaps):.2f} s"


# -- the dialog in the window ---------------------------------------------------------------


async def test_password_is_masked_kept_in_memory_and_never_shown_or_saved(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    full = f"postgresql://bob:{PASSWORD}@127.0.0.1:1/x"
    d = w.show_backend_dialog()
    assert d.isVisible() and d.use_button.isEnabled()
    d.url_edit.setText(full)
    d.url_edit.editingFinished.emit()
    assert d.url_edit.displayText() == "postgresql://bob:***@127.0.0.1:1/x"
    assert d.kind_box.currentData() == "postgresql"
    assert d.password_edit.echoMode() == QLineEdit.EchoMode.Password
    assert d.url() == full
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=6, what="the connection test")
    assert d.last_result is not None and not d.last_result[0]
    assert "connection refused" in d.test_result.text()
    assert_secret_kept(w, PASSWORD)

    d.use_button.click()
    assert not d.isVisible()
    assert w.scenario.queue.backend == "postgresql://bob@127.0.0.1:1/x"
    assert w.runner.full_url(w.scenario.queue.backend) == full  # for the connection only
    assert "bob:***@" in w.controls.backend.text()
    field = w.form.fields["queue.backend"].editor
    assert field.line.displayText() == "postgresql://bob:***@127.0.0.1:1/x"  # type: ignore[attr-defined]
    saved = tmp_path / "with-backend.toml"
    assert w.save_file(saved)
    assert "postgresql://bob@127.0.0.1:1/x" in saved.read_text(encoding="utf-8")
    assert_secret_kept(w, PASSWORD, saved)

    # typed into the form's own field instead: masked there too, and still kept
    other = f"redis://:{PASSWORD}x@127.0.0.1:1/0"
    field.line.setText(other)  # type: ignore[attr-defined]
    field.line.editingFinished.emit()  # type: ignore[attr-defined]
    assert w.scenario.queue.backend == "redis://127.0.0.1:1/0"
    assert field.line.displayText() == "redis://:***@127.0.0.1:1/0"  # type: ignore[attr-defined]
    assert w.runner.full_url(w.scenario.queue.backend) == other
    assert_secret_kept(w, PASSWORD)


async def test_kinds_fill_in_their_urls_and_memory_follows_the_discipline(
        window: MainWindow, tmp_path: Path) -> None:
    w = window
    w.set_scenario(scenario(queue={"discipline": "priority"}), None)
    d = w.show_backend_dialog()
    assert d.kind_box.currentData() == "memory" and "priority" in d.hint.text()
    for index in range(d.kind_box.count()):
        d.kind_box.setCurrentIndex(index)
        d.kind_box.activated.emit(index)
        assert d.url().split("://")[0].startswith(d.kind_box.currentData()[:4])
    d.kind_box.setCurrentIndex(d.kind_box.findData("sqlite"))
    d.kind_box.activated.emit(d.kind_box.currentIndex())
    assert d.url() == "sqlite:///" and d.sqlite_default.isChecked()
    d.sqlite_file.setChecked(True)
    d.sqlite_path.setText(str(tmp_path / "lab.sqlite3"))
    d.sqlite_path.editingFinished.emit()
    assert d.url() == f"sqlite:///{tmp_path / 'lab.sqlite3'}"
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=6, what="the SQLite test")
    assert d.last_result is not None and d.last_result[0], d.last_result
    assert "Connected to sqlite:///" in d.test_result.text()
    d.use_button.click()
    assert w.scenario.queue.backend == f"sqlite:///{tmp_path / 'lab.sqlite3'}"
    assert w.scenario.queue.discipline == "priority"


async def test_the_backend_is_fixed_while_a_run_goes_on(window: MainWindow) -> None:
    w = window
    w.set_scenario(scenario(run={"duration": 100_000.0}), None)
    w.toggle_run()
    await wait_until(lambda: w.runner.engine is not None
                     and w.runner.engine.state == RunState.RUNNING, what="running")
    d = w.show_backend_dialog()
    assert not d.use_button.isEnabled() and "reset" in d.idle_note.text()
    assert w.choose_backend("sqlite:///") is not None  # refused, and the scenario unchanged
    assert w.scenario.queue.backend == "memory://"
    d.reject()
    w.toggle_run()


# -- live runs against servers that are not there -------------------------------------------


def _live(w: MainWindow, backend: str) -> None:
    if unavailable_reason(LIVE) is not None:
        pytest.skip("this build has no live engine")
    w.set_scenario(scenario(**SHORT_LIVE), None)
    assert w.choose_backend(backend) is None
    w.controls.mode_actions[LIVE].trigger()
    assert w.runner.engine is not None and w.runner.engine.kind == LIVE


async def _still_usable(w: MainWindow) -> None:
    """After the failure: back to the simulator, which runs as before."""
    w.controls.mode_actions[SIMULATED].trigger()
    w.set_speed(None)
    w.toggle_run()
    await wait_until(lambda: len(w.history) >= 5, what="simulated frames")
    w.toggle_run()


@pytest.mark.parametrize("backend, words", [
    (f"postgresql://bob:{PASSWORD}@127.0.0.1:1/x", "connection refused"),
    (f"redis://:{PASSWORD}@127.0.0.1:1/0", "cannot reach Redis"),
])
async def test_live_run_on_an_unreachable_server_says_so_and_the_app_goes_on(
        window: MainWindow, backend: str, words: str) -> None:
    w = window
    _live(w, backend)
    began = time.perf_counter()
    w.toggle_run()
    await wait_until(lambda: bool(_boxes(w)), timeout=8, what="the error message")
    assert time.perf_counter() - began < 5.0
    text = w.last_error or ""
    assert words in text and "***@127.0.0.1:1" in text and PASSWORD not in text, text
    assert w.runner.engine is not None and w.runner.engine.state == RunState.IDLE
    assert w.controls.run_action.isEnabled()
    _close_boxes(w)
    assert_secret_kept(w, PASSWORD)
    await _still_usable(w)


async def test_live_run_on_a_silent_server_gives_up_after_the_timeout(
        window: MainWindow, silent_port: int) -> None:
    w = window
    _live(w, f"redis://:{PASSWORD}@127.0.0.1:{silent_port}/0")
    w.runner.open_timeout = 1.0
    w.toggle_run()
    assert w.runner.is_opening and not w.controls.run_action.isEnabled()
    assert "Connecting to redis://:***@" in w.message.text()
    await wait_until(lambda: bool(_boxes(w)), timeout=5, what="the timeout message")
    assert "no answer within 1 s" in (w.last_error or "")
    _close_boxes(w)
    assert_secret_kept(w, PASSWORD)
    await _still_usable(w)


async def test_switching_engines_while_connecting_does_not_wait_for_the_server(
        window: MainWindow, silent_port: int) -> None:
    w = window
    _live(w, f"redis://:{PASSWORD}@127.0.0.1:{silent_port}/0")
    w.runner.open_timeout = 4.0
    w.toggle_run()
    assert w.runner.is_opening
    began = time.perf_counter()
    await _still_usable(w)  # to the simulator at once, and it runs
    assert time.perf_counter() - began < 4.0  # waiting for the server would take its 4 s
    # the abandoned attempt ends quietly, and what it held is let go
    await wait_until(lambda: not engines._HANDED, timeout=10, what="the abandoned open to end")
    assert not _boxes(w)


# -- the real servers of this machine -------------------------------------------------------


@pytest.mark.parametrize("url", [
    pytest.param(f"postgresql://127.0.0.1:5432/test?queue=gui-{RUN}", marks=needs("postgres"),
                 id="postgres"),
    pytest.param(f"redis://127.0.0.1:6379/0?queue=gui-{RUN}", marks=needs("redis"), id="redis"),
    pytest.param(f"amqp://guest:guest@127.0.0.1:5672/?queue=gui-{RUN}",
                 marks=needs("rabbitmq"), id="rabbitmq"),
])
async def test_connection_test_against_the_real_servers(window: MainWindow, url: str) -> None:
    d = window.show_backend_dialog()
    d.url_edit.setText(url)
    d.url_edit.editingFinished.emit()
    assert "guest:guest" not in d.url_edit.displayText()
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=8, what="the connection test")
    assert d.last_result is not None and d.last_result[0], d.last_result
    assert "Connected to" in d.test_result.text() and "ready" in d.test_result.text()
    if url.startswith("amqp"):
        from queuelab.backends import open_queue

        await open_queue(url).destroy()  # type: ignore[attr-defined]


@pytest.mark.parametrize("url, secret", [
    pytest.param(f"postgresql://root:{PASSWORD}@127.0.0.1:5432/test?queue=gui-live-{RUN}",
                 PASSWORD, marks=needs("postgres"), id="postgres"),
    pytest.param(f"redis://:{PASSWORD}@127.0.0.1:6379/0?queue=gui-live-{RUN}", PASSWORD,
                 marks=needs("redis"), id="redis"),
    pytest.param(f"amqp://guest:guest@127.0.0.1:5672/?queue=gui-live-{RUN}", "guest:guest",
                 marks=needs("rabbitmq"), id="rabbitmq"),
])
async def test_live_run_on_a_real_server_with_the_password_in_memory(
        window: MainWindow, url: str, secret: str) -> None:
    """The engine runs on a queue opened from the full URL; the scenario never holds it."""
    w = window
    _live(w, url)
    assert secret not in w.scenario.queue.backend
    engine = w.runner.engine
    assert engine is not None
    try:
        w.toggle_run()
        await wait_until(lambda: engine.state == RunState.FINISHED, timeout=30, what="the end")
        w.refresh()
        assert not _boxes(w), w.last_error
        assert w.totals.balanced and engine.totals().created > 50
        assert_secret_kept(w, secret)
        w.reset()  # the window lets the engine go: the queue it was handed is closed
        await wait_until(lambda: engine not in engines._HANDED, what="the handed queue closed")
    finally:
        _close_boxes(w)
        if url.startswith("amqp"):
            from queuelab.backends import open_queue

            await open_queue(url).destroy()  # type: ignore[attr-defined]


async def test_a_credential_option_is_kept_for_the_session_and_never_in_the_scenario() -> None:
    """Before, `?password=` stayed in the scenario's URL (and so in saved files)."""
    from queuelab.gui.backend_urls import BackendSecrets

    secrets = BackendSecrets()
    url = "redis://127.0.0.1:6379/0?queue=jobs&password=s3cret"
    bare = secrets.remember(url)
    assert bare == "redis://127.0.0.1:6379/0?queue=jobs"
    assert secrets.full(bare) == url
    shown = "redis://127.0.0.1:6379/0?queue=jobs&password=***"  # sent back as shown
    assert secrets.remember(shown, previous=url) == bare and secrets.full(bare) == url
