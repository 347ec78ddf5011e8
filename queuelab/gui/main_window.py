"""The main window: scenario editor, run controls, plots, panes and the totals.

It owns the current scenario and wires the pieces together; each piece does one job
(`scenario_form`, `run_controls`, `plots`, `workers_table`, `theory_pane`, `status`, the
engine `runner`). A change made in the form is applied to the engine while a run goes on
(and marked on the plots), or rebuilds the idle engine otherwise. While a run goes on the form
shows the knobs in force, the timeline's changes too; the scenario (saved, and what the next
run starts from) keeps the user's edits only, and the form shows it again once the run ends.

The backend URL's password is kept in `secrets` (memory only): the scenario, and so every
title, file and setting made from it, holds the URL without it.
"""

from __future__ import annotations

import importlib
import math
import os
import time
from bisect import bisect_right
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPlainTextEdit,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from queuelab.core import scenario_toml
from queuelab.core.budget import large_run
from queuelab.core.engine import RunState
from queuelab.core.handler_trust import TRUSTED_ENV, handler_module, is_trusted, trusted_modules
from queuelab.core.queue_names import queue_name, with_queue_name
from queuelab.core.scenario import Scenario
from queuelab.core.segments import (
    offered_in_force,
    scenario_at,
    segment_theory,
    segments,
    theory_reference,
)
from queuelab.core.urls import redact_url
from queuelab.core.validation import ParamChange, ScenarioError
from queuelab.gui import files, help_links, hockey_view, keda_files, lesson_pane, welcome
from queuelab.gui.about import AboutDialog
from queuelab.gui.backend_dialog import BackendDialog
from queuelab.gui.backend_urls import BackendSecrets
from queuelab.gui.comparison import Comparison
from queuelab.gui.edits import rebuild
from queuelab.gui.engines import LIVE, MONITOR, SIMULATED, unavailable_reason
from queuelab.gui.found_dialog import FoundDialog, fresh_queue_name
from queuelab.gui.history import FrameHistory, Growth
from queuelab.gui.monitor_view import (
    MONITOR_SPEED_REASON,
    MonitorWatch,
    export_history_csv,
    replay_folder,
    write_traffic_replay,
)
from queuelab.gui.plot_items import format_clock
from queuelab.gui.plots import PlotPanel
from queuelab.gui.run_controls import DEFAULT_SPEED, RunControls
from queuelab.gui.runner import CANCEL, FRESH, EngineRunner
from queuelab.gui.scenario_form import ScenarioForm, timeline_note
from queuelab.gui.status import TotalsLabel
from queuelab.gui.theory_pane import TheoryPane
from queuelab.gui.tune_view import TuneView
from queuelab.gui.welcome import WelcomePanel
from queuelab.gui.workers_table import WorkersTable
from queuelab.io.scenario_files import load_scenario, resolve_data, save_scenario

if TYPE_CHECKING:
    from queuelab.core.engine import AppliedChange, Engine
    from queuelab.core.metrics import MetricsFrame
    from queuelab.runtime.found import FoundTasks

REFRESH_MS = 30  # plots, clock and totals: ~30 redraws per second at most
WORKERS_EVERY = 0.2  # seconds between workers-table refreshes (when the tab is shown)
THEORY_EVERY = 0.5
DEAD_LETTERS_EVERY = 1.0
RATE_EVERY = 1.0
ACTIVE = (RunState.RUNNING, RunState.PAUSED, RunState.STOPPING)
TAB_SHARES = {1: 0.5, 2: 0.42, 3: 0.5, 4: 0.45, 5: 0.55}  # dead letters … compare, tune
FORM_MIN_WIDTH = 300
LIVE_TARGET = 180.0  # seconds a live run should take at the time scale proposed for it
CONTINUE_FOR = 600.0  # scenario seconds a finished run is continued by to work off reprocessed
TAB_WORKERS, TAB_DEAD, TAB_WAITS, TAB_THEORY, TAB_COMPARE, TAB_TUNE = range(6)


def _dead_letter_pane() -> QWidget:
    """The dead-letter pane (issue 4) when this build has it, else a note saying so."""
    try:
        module = importlib.import_module("queuelab.gui.dead_letters")
    except ModuleNotFoundError as exc:
        if exc.name != "queuelab.gui.dead_letters":
            raise
        label = QLabel("The dead-letter pane is not part of this build yet.")
        label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        return label
    return module.DeadLetterPane()  # type: ignore[no-any-return]


def proposed_time_scale(duration: float) -> float | None:
    """A round time scale (1, 2 or 5 × 10^k) that plays `duration` scenario seconds in about
    LIVE_TARGET wall seconds; None when the run is that short already."""
    if duration <= LIVE_TARGET:
        return None
    want = LIVE_TARGET / duration
    base = 10.0 ** math.floor(math.log10(want))
    scale = max(m * base for m in (1.0, 2.0, 5.0) if m * base <= want * (1 + 1e-9))
    return float(f"{max(scale, 1e-4):.4g}")


def _path_problem(path: Path) -> str:
    """Why a file could not be written there, in words."""
    parent = path.parent
    if not parent.exists():
        return f"no such folder ({parent})"
    if not parent.is_dir():
        return f"{parent} is not a folder"
    if path.is_dir():
        return "that is a folder"
    return "the file could not be written (permissions, or a full disk)"


def _os_reason(exc: OSError, path: str | Path) -> str:
    if isinstance(exc, FileNotFoundError):
        return _path_problem(Path(path))
    return exc.strerror or str(exc)


def _refusal(path: str, exc: ScenarioError) -> str:
    """The reasons a change was refused, naming other knobs only when they are the cause."""
    return "; ".join(e.reason if e.path == path else str(e) for e in exc.errors)


class MainWindow(QMainWindow):
    def __init__(self, *, restore: bool = True) -> None:
        super().__init__()
        self.setObjectName("main_window")
        self.scenario = Scenario()
        self.scenario_path: Path | None = None
        self.history = FrameHistory()
        self.secrets = BackendSecrets()
        self.runner = EngineRunner(self)
        self._event_log_box: QPlainTextEdit | None = None
        self.runner.full_url = self.secrets.full
        self.runner.may_import = self.may_import_handler
        self.backend_dialog: BackendDialog | None = None
        self.found_dialog: FoundDialog | None = None
        self._shared: str | None = None  # why the live run's queue is shared, once known
        self.last_error: str | None = None
        self._reference = (math.nan, math.nan, math.nan)
        self._referenced = 0  # the engine's changes `_reference` follows (its first n)
        self._growth: Growth | None = None
        self._due: dict[str, float] = {}
        self._rate_mark: tuple[float, int] | None = None
        self._dead_count = -1
        self._engine_broken = False  # the engine failed while being read; wait for a reset
        self._marked = 0  # engine changes already marked on the plots
        self._last_marked: AppliedChange | None = None
        self._split_set = False  # the plots/tabs split is set at the first show, or restored
        self._tab_shares: dict[int, float] = {}  # share of the height each tab was given
        self._applying_split = False
        self._split_tab = -1

        self.controls = RunControls(self)
        self.addToolBar(self.controls)
        self.form = ScenarioForm(self._submit_change)
        self.plots = PlotPanel(self.history)
        self.monitor = MonitorWatch(self, self.status, self.plots.set_rates_tooltip)
        self.workers = WorkersTable()
        self.dead_letters = _dead_letter_pane()
        self.theory = TheoryPane()
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(self.workers, "Workers")
        self.tabs.addTab(self.dead_letters, "Dead letters")
        self.tabs.addTab(self.plots.wait_canvas, "Wait percentiles")
        self.tabs.addTab(self.theory, "Theory")
        self.comparison = Comparison(self)
        self.tabs.addTab(self.comparison.pane, "Compare")
        self.controls.view_bar.addAction(self.comparison.pin_action)  # with the plots it pins
        self.tune = TuneView(self)
        self.tabs.addTab(self.tune, "Tune")
        self.form.sweep_requested.connect(self.tune.sweep_knob)

        # the first-run panel sits right under the plots it explains, above the tabs: the
        # plots keep their height, the table gives way while it is shown
        self.welcome = WelcomePanel()
        self.welcome.hide()
        lower = QWidget()
        lower_lay = QVBoxLayout(lower)
        lower_lay.setContentsMargins(0, 0, 0, 0)
        lower_lay.setSpacing(4)
        lower_lay.addWidget(self.welcome)
        lower_lay.addWidget(self.tabs, 1)
        self.tabs.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)

        # the view bar (time window, smoothing, follow) sits on the plots it steers
        plots_column = QWidget()
        plots_lay = QVBoxLayout(plots_column)
        plots_lay.setContentsMargins(0, 0, 0, 0)
        plots_lay.setSpacing(0)
        plots_lay.addWidget(self.controls.view_bar)
        plots_lay.addWidget(self.plots, 1)

        self.right = QSplitter(Qt.Orientation.Vertical)
        self.right.setObjectName("plots_tabs_splitter")
        self.right.setChildrenCollapsible(False)
        self.right.addWidget(plots_column)
        self.right.addWidget(lower)
        # extra height (a maximized window) goes to the plots; the split is remembered
        self.right.setStretchFactor(0, 1)
        self.right.setStretchFactor(1, 0)
        self.right.setSizes([640, 230])
        self.plots.setMinimumHeight(240)
        lower.setMinimumHeight(100)
        self.main = QSplitter(Qt.Orientation.Horizontal)
        self.main.setObjectName("form_plots_splitter")
        self.main.setChildrenCollapsible(False)
        self.form.setMinimumWidth(FORM_MIN_WIDTH)  # editors stay readable; the form scrolls
        self.main.addWidget(self.form)
        self.main.addWidget(self.right)
        self.main.setStretchFactor(0, 0)
        self.main.setStretchFactor(1, 1)
        self.main.setSizes([370, 1030])
        self.setCentralWidget(self.main)

        self.message = QLabel()
        self.state_label = QLabel()
        self.rate_label = QLabel()
        self.rate_label.setToolTip("Tasks created per second of wall-clock time: how fast the "
                                   "run goes through its scenario")
        self.totals = TotalsLabel()
        bar = self.statusBar()
        bar.addWidget(self.totals, 1)
        bar.addPermanentWidget(self.message)
        bar.addPermanentWidget(self.rate_label)
        bar.addPermanentWidget(self.state_label)
        self._message_timer = QTimer(self)
        self._message_timer.setSingleShot(True)
        self._message_timer.timeout.connect(self.message.clear)

        self._build_menus()
        self.lessons = lesson_pane.install(self)  # the Lessons menu and the lesson dock
        self._connect()
        self.controls.set_mode_available(LIVE, unavailable_reason(LIVE))
        self.controls.set_mode_available(MONITOR, unavailable_reason(MONITOR))
        self.resize(1400, 900)

        self._refresh_timer = QTimer(self)
        self._refresh_timer.timeout.connect(self.refresh)
        self._refresh_timer.start(REFRESH_MS)

        if restore:
            self._restore_settings()
            if welcome.wanted():  # a real start, not a test's window
                self.show_welcome()
        else:
            self.set_scenario(Scenario(), None)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if not self._split_set:  # first show, nothing remembered: most height to the plots
            self._split_set = True
            total = sum(self.right.sizes())
            lower = max(130, min(260, round(total * 0.27)))
            if total > lower + 240:
                self.right.setSizes([total - lower, lower])
            if self.tabs.currentIndex() != TAB_WORKERS:
                self._apply_tab_split(self.tabs.currentIndex())

    # -- building -------------------------------------------------------------------------------

    def _build_menus(self) -> None:
        bar = self.menuBar()
        m = bar.addMenu("&File")
        self._action(m, "&New scenario", self.new_scenario, QKeySequence.StandardKey.New)
        self._action(m, "&Open…", self._open_dialog, QKeySequence.StandardKey.Open)
        self.recent_menu = m.addMenu("Open &recent")
        self.examples_menu = m.addMenu("&Examples")
        for path in files.shipped_scenarios():
            act = self.examples_menu.addAction(files.scenario_title(path))
            act.setToolTip(str(path))
            act.triggered.connect(lambda _=False, p=path: self.open_file(p))
        if not self.examples_menu.actions():
            self.examples_menu.setEnabled(False)
        m.addSeparator()
        self._action(m, "&Save", self._save, QKeySequence.StandardKey.Save)
        self._action(m, "Save &as…", self._save_as_dialog, QKeySequence.StandardKey.SaveAs)
        m.addSeparator()
        self._action(m, "Export frames as &CSV…", self._export_csv_dialog)
        m.addAction(self.monitor.export_action)
        self.monitor.export_action.triggered.connect(self._export_history_dialog)
        self._action(m, "Export plots as &PNG…", self._export_png_dialog)
        export_menu = m.addMenu("E&xport")
        self._action(export_menu, "&KEDA ScaledObject…",
                     lambda _=False: keda_files.export_dialog(self))
        import_menu = m.addMenu("&Import")
        self._action(import_menu, "&KEDA ScaledObject…",
                     lambda _=False: keda_files.import_dialog(self))
        m.addSeparator()
        self._action(m, "&Quit", self.close, QKeySequence.StandardKey.Quit)

        r = bar.addMenu("&Run")
        r.addAction(self.controls.run_action)
        r.addAction(self.controls.step_action)
        r.addAction(self.controls.reset_action)
        self._action(r, "&Event log…", self.show_event_log)
        r.addAction(self.comparison.pin_action)
        r.addSeparator()
        for act in self.controls.speed_actions.values():
            r.addAction(act)
        r.addSeparator()
        self._action(r, "Queue &backend…", self.show_backend_dialog)
        r.addAction(self.monitor.simulate_action)
        self.monitor.simulate_action.triggered.connect(self.simulate_traffic)
        r.addAction(self.monitor.pick_action)
        self.monitor.on_pick = self.watch_queue
        history_menu = r.addMenu("Monitor &history")
        for act in self.monitor.range_actions:
            history_menu.addAction(act)
        history_menu.addAction(self.monitor.custom_action)
        r.addAction(self.monitor.alerts_action)
        self.monitor.on_history = self._show_monitor_history
        r.addSeparator()
        self._action(r, "Wait against &utilization (hockey stick)…",
                     lambda _=False: hockey_view.show_hockey(self))

        v = bar.addMenu("&View")
        self.running_action = self._action(v, "&Running means since the last change",
                                           self.plots.set_running_mean)
        self.running_action.setCheckable(True)
        self.running_action.setToolTip(
            "Beside the raw frames: the mean waiting count, utilization and mean wait since "
            "the current segment's warm-up, the curves a theory line is read against")

        h = bar.addMenu("&Help")
        self._action(h, "&What am I looking at?", self.show_welcome)
        h.addSeparator()
        self.readme_actions: list[QAction] = []
        for section in help_links.sections(help_links.readme_text() or ""):
            act = self._action(h, f"README: {section.title}",
                               lambda _=False, a=section.anchor: self.open_readme(a))
            act.setToolTip(f"Open README.md#{section.anchor}")
            self.readme_actions.append(act)
        h.addSeparator()
        self._action(h, "&About QueueLab", self._about)
        self._action(h, "About &Qt", QApplication.aboutQt)
        self._update_recent_menu()

    def _action(self, menu: object, text: str, slot: object,
                shortcut: QKeySequence.StandardKey | None = None) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        act.triggered.connect(slot)
        menu.addAction(act)  # type: ignore[attr-defined]
        return act

    def _connect(self) -> None:
        c, r = self.controls, self.runner
        c.run_toggled.connect(self.toggle_run)
        c.step_requested.connect(r.step)
        c.reset_requested.connect(self.reset)
        c.speed_changed.connect(self.set_speed)
        c.mode_changed.connect(self.set_mode)
        c.window_changed.connect(self.plots.set_window)
        c.smoothing_changed.connect(self.plots.set_smoothing)
        c.time_scale_changed.connect(self._time_scale_edited)
        c.follow_requested.connect(lambda: self.plots.set_follow(True))
        c.backend_requested.connect(self.show_backend_dialog)
        self.welcome.knob_requested.connect(self.form.reveal)
        self.plots.follow_changed.connect(c.set_following)
        r.frames_ready.connect(self._on_frames)
        r.state_changed.connect(self._on_state)
        r.engine_replaced.connect(self._on_engine)
        r.failed.connect(lambda text: self.show_error("The engine stopped with an error", text))
        r.open_failed.connect(lambda text: self.show_error("Cannot open the queue", text))
        r.notice.connect(lambda text: self.status(f"Warning: {redact_url(text)}"))
        r.stepped.connect(lambda text: self.status(f"Step: {text}"))
        r.opening.connect(self._on_opening)
        r.found_tasks.connect(self._ask_about_found)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.right.splitterMoved.connect(self._split_moved)
        finished = getattr(self.dead_letters, "action_finished", None)
        if finished is not None:
            finished.connect(self._dead_letters_acted)

    def _tab_changed(self, index: int) -> None:
        self._due.clear()  # the newly shown tab refreshes at once
        self.plots.mark_dirty()
        self._apply_tab_split(index)

    def _apply_tab_split(self, index: int) -> None:
        """Each tab gets the share of the height it was last given (the dead-letter table
        wants more rows than the workers table): the split is remembered per tab."""
        total = sum(self.right.sizes())
        if total <= 0 or not self._split_set:
            return
        share = self._tab_shares.get(index, TAB_SHARES.get(index, 0.27))
        tabs = self.right.widget(1)
        lower = max(tabs.minimumHeight() if tabs is not None else 0, round(total * share))
        self._applying_split = True
        try:
            self.right.setSizes([total - lower, lower])
        finally:
            self._applying_split = False
        self._split_tab = index

    def _split_moved(self, *_: object) -> None:
        """The user dragged the split: remember it for the tab shown."""
        if self._applying_split:
            return
        top, bottom = self.right.sizes()
        if top + bottom > 0:
            self._tab_shares[self.tabs.currentIndex()] = bottom / (top + bottom)

    # -- scenario -------------------------------------------------------------------------------

    def set_scenario(self, scenario: Scenario, path: Path | None) -> bool:
        """Show `scenario` and build a fresh idle engine for it; False (and a message) if not."""
        previous = (self.scenario, self.scenario_path)
        self.scenario, self.scenario_path = scenario, path
        try:
            self.runner.build(scenario)
        except Exception as exc:
            self.scenario, self.scenario_path = previous
            self.show_error("Cannot build an engine for this scenario", f"{exc}")
            return False
        self.form.set_scenario(scenario)
        self._show_backend()
        self.setWindowModified(False)
        self._update_title()
        return True

    def _show_monitor_history(self, frames: list[MetricsFrame]) -> None:
        """The plots hold this stretch of a monitored queue's history, the whole of it shown."""
        engine = self.runner.engine
        if engine is not None:
            frames += [f for f in engine.take_frames() if not frames or f.t > frames[-1].t]
        self.history.clear()
        self.plots.clear()
        self._on_frames(frames)
        self.plots.set_window(None)
        self.controls.set_window(None)
        self.status(f"Showing {len(frames):,} points of this queue's history", 10000)

    def watch_queue(self, name: str) -> bool:
        """Monitor mode: watch queue `name` of the same server instead (a fresh watch)."""
        from urllib.parse import parse_qsl, urlencode

        full = self.secrets.full(self.scenario.queue.backend)
        head, _, query = full.partition("?")
        options = dict(parse_qsl(query, keep_blank_values=True))
        options["queue"] = name
        try:  # the watch going on lets go first: a backend is fixed while a run goes
            self.runner.build(self.scenario, MONITOR)
        except Exception as exc:
            self.show_error("Cannot watch that queue", f"{exc}")
            return False
        reason = self.choose_backend(f"{head}?{urlencode(options)}")  # rebuilds, idle
        if reason is not None:
            self.show_error("Cannot watch that queue", reason)
            return False
        self.status(f"Watching {name}: press Run to start")
        return True

    def simulate_traffic(self) -> bool:
        """Monitor mode: the traffic recorded in the time range the plots show, as a
        scenario in the simulator (its service time said to be an estimate)."""
        from queuelab.io.replay import ReplayError

        engine = self.runner.engine
        if engine is None or engine.kind != MONITOR:
            return False
        lo, hi = self.plots.x_range()
        try:
            path, report = write_traffic_replay(engine, (lo, hi), replay_folder())
        except (ReplayError, OSError) as exc:
            self.show_error("Cannot simulate this traffic", str(exc))
            return False
        self.set_mode(SIMULATED)
        if not self.open_file(path):
            return False
        self.status(" · ".join(line.strip() for line in report.splitlines()[1:3]), 30000)
        return True

    def open_file(self, path: str | Path) -> bool:
        """Load a scenario file; a broken one is explained and the current scenario kept."""
        p = Path(path)
        try:
            scenario = load_scenario(p)
        except ScenarioError as exc:
            self.show_error(f"Cannot open {p.name}", str(exc))
            return False
        except Exception as exc:
            self.show_error(f"Cannot open {p.name}", f"{type(exc).__name__}: {exc}")
            return False
        if not self.set_scenario(scenario, p):
            return False
        files.add_recent_file(p)
        self._update_recent_menu()
        self.status(f"Opened {p}")
        return True

    def save_file(self, path: str | Path) -> bool:
        p = Path(path)
        try:
            save_scenario(p, self.scenario)
        except OSError as exc:
            self.show_error(f"Cannot save {p.name}",
                            f"Cannot save the scenario to {p}: {_os_reason(exc, p)}")
            return False
        self.scenario_path = p
        self.setWindowModified(False)
        files.add_recent_file(p)
        self._update_recent_menu()
        self._update_title()
        self.status(f"Saved {p}")
        return True

    def new_scenario(self) -> None:
        self.set_scenario(Scenario(), None)

    def _base_dir(self) -> Path | None:
        return self.scenario_path.parent if self.scenario_path else None

    def _submit_change(self, change: ParamChange) -> str | None:
        """The form's edits: applied live while a run goes on, else the idle engine rebuilt."""
        engine = self.runner.engine
        if change.path == "queue.backend":  # the password stays in memory, masked in the form
            previous = self.secrets.full(self.scenario.queue.backend)
            change = ParamChange(change.path, self.secrets.remember(str(change.value), previous))
            self.form.fields[change.path].editor.set_value(self.secrets.full(change.value))
        try:
            if engine is not None and engine.state in ACTIVE:
                applied = self.runner.apply(change)
                self._sync_markers(engine, by_hand=applied)
                self._update_reference()
                self.status(f"t = {format_clock(applied.t)}: {applied.label()}")
                self._keep(change)
            else:
                new = rebuild(self.scenario, change, self._base_dir())
                if engine is None or engine.state == RunState.IDLE:
                    self.runner.build(new)
                self.scenario = new
        except ScenarioError as exc:
            return _refusal(change.path, exc)
        except Exception as exc:  # an engine bug: refuse the value, keep the window
            return f"{type(exc).__name__}: {exc}"
        self.form.update_values(self._knobs_in_view())
        self._show_backend()
        self.setWindowModified(True)
        self._update_title()
        return None

    def _keep(self, change: ParamChange) -> None:
        """An edit made during a run is the user's: the scenario keeps it (saved, and the next
        run starts from it), while what the timeline changed stays the run's."""
        try:
            self.scenario = rebuild(self.scenario, change, self._base_dir())
        except ScenarioError as exc:  # it clashes with a knob only the timeline had changed
            self.status(f"{change.path} = {change.value!r} applies to this run only: {exc}")

    def _knobs_in_view(self) -> Scenario:
        """What the form shows: the knobs in force while a run goes on, else the scenario."""
        engine = self.runner.engine
        active = engine is not None and engine.state in ACTIVE and engine.kind != MONITOR
        return engine.scenario if active and engine is not None else self.scenario

    def show_welcome(self) -> None:
        """The first-run panel, with room made for it below the plots if there is too little
        (once the window is laid out: the room it needs depends on its width)."""
        self.welcome.present()
        QTimer.singleShot(0, self._make_room_for_welcome)

    def _make_room_for_welcome(self) -> None:
        width = self.right.width()
        panel = self.welcome.heightForWidth(width) if self.welcome.hasHeightForWidth() else -1
        need = max(panel, self.welcome.sizeHint().height()) + 90  # + the tabs' bar and header
        top, bottom = self.right.sizes()
        if bottom < need and top + bottom > need + 300:
            self.right.setSizes([top + bottom - need, need])

    def _show_backend(self) -> None:
        """The backend in the form and the toolbar, with `***` where a password is held."""
        full = self.secrets.full(self.scenario.queue.backend)
        field = self.form.fields["queue.backend"]
        if field.invalid_reason is None:
            field.editor.set_value(full)
        self.controls.set_backend(full)

    def choose_backend(self, url: str) -> str | None:
        """Make `url` (password included) the scenario's backend; the reason if refused
        (a run goes on: the backend is fixed for a run)."""
        return self._submit_change(ParamChange("queue.backend", url))

    def show_backend_dialog(self) -> BackendDialog:
        if self.backend_dialog is None:
            self.backend_dialog = BackendDialog(self)
            self.backend_dialog.chosen.connect(self._backend_chosen)
        dialog = self.backend_dialog
        dialog.set_url(self.secrets.full(self.scenario.queue.backend),
                       self.scenario.queue.discipline)
        engine = self.runner.engine
        dialog.set_changeable(engine is None or engine.state not in ACTIVE)
        dialog.open()
        return dialog

    def _backend_chosen(self, url: str) -> None:
        reason = self.choose_backend(url)
        if reason is not None:
            self.show_error("Cannot use this backend", reason)
            return
        hint = " (the simulated engine keeps its own queue: switch to Live to use it)" \
            if self.runner.kind == SIMULATED and not url.startswith("memory:") else ""
        self.status(f"Backend: {redact_url(url)}{hint}")

    def _time_scale_edited(self, scale: float) -> None:
        """The toolbar's time scale: the scenario's `run.time_scale`, before a live run."""
        reason = self._submit_change(ParamChange("run.time_scale", scale))
        engine = self.runner.engine
        run = (engine.scenario if engine is not None else self.scenario).run
        self.controls.set_time_scale(run.time_scale, run.duration)
        if reason is not None:
            self.status(f"Time scale: {reason}")

    def _dead_letters_acted(self, result: object) -> None:
        """Reprocessed tasks after the run ended would wait for ever: say so, and offer to
        continue the run (simulated) so they are processed."""
        engine = self.runner.engine
        if engine is None or engine.state != RunState.FINISHED or \
                getattr(result, "action", "") != "reprocess" or not getattr(result, "acted", 0):
            return
        n = int(getattr(result, "acted", 0))
        tasks = f"{n:,} reprocessed task{'' if n == 1 else 's'}"
        if engine.kind != SIMULATED:
            self.status(f"The run has ended: the {tasks} wait in the queue for the next run",
                        20000)
            return
        box = QMessageBox(QMessageBox.Icon.Question, "Continue the run?",
                          f"The run has ended, so nothing will process the {tasks}. Continue "
                          f"the run for {format_clock(CONTINUE_FOR)} more so they are "
                          "processed?", QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("continue_dialog")
        go = box.addButton("Continue the run", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Leave them waiting", QMessageBox.ButtonRole.RejectRole)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: self.continue_run(CONTINUE_FOR) if b is go else
                                  self.status(f"The {tasks} wait in the queue; this run is "
                                              "over and will not process them", 20000))
        box.open()
        self.continue_dialog = box

    def continue_run(self, seconds: float) -> bool:
        """Extend a finished simulated run by `seconds` and run on (the change is marked)."""
        engine = self.runner.engine
        if engine is None or engine.state != RunState.FINISHED or engine.kind != SIMULATED:
            return False
        try:
            change = ParamChange("run.duration", engine.now + seconds)
            applied = self.runner.apply(change)
        except ScenarioError as exc:
            self.show_error("Cannot continue the run", str(exc))
            return False
        self._keep(change)
        self.form.update_values(self._knobs_in_view())
        self._sync_markers(engine, by_hand=applied)
        self.status(f"t = {format_clock(applied.t)}: {applied.label()}")
        self.runner.toggle()
        return True

    def _on_opening(self, opening: bool) -> None:
        engine = self.runner.engine
        if opening and engine is not None:
            url = redact_url(self.secrets.full(engine.scenario.queue.backend))
            self.status(f"Connecting to {url} …", 15000)
            self.controls.run_action.setEnabled(False)
            self.controls.step_action.setEnabled(False)
        elif not opening:
            self.message.clear()
            self.controls.set_state(engine.state if engine is not None else RunState.IDLE)

    def _ask_about_found(self, found: FoundTasks) -> FoundDialog | None:
        """The live queue already holds tasks or dead letters: ask before the run touches
        them (work off, fresh queue, purge, cancel)."""
        engine = self.runner.engine
        if engine is None:
            return None
        url = self.secrets.full(engine.scenario.queue.backend)
        name = queue_name(url)
        fresh = fresh_queue_name(name)
        dialog = FoundDialog(self, redact_url(url), name, found, fresh)
        dialog.chosen.connect(lambda choice: self._found_choice(
            choice, found, with_queue_name(url, fresh)))
        self.found_dialog = dialog
        dialog.open()
        return dialog

    def _found_choice(self, choice: str, found: FoundTasks, fresh_url: str) -> None:
        self.found_dialog = None
        if choice != FRESH:
            self.runner.resolve_found(choice)
            if choice != CANCEL:
                self.status({"keep": f"Working off {found.describe()} (carried over)",
                             "purge": f"Purging {found.describe()}"}[choice])
            return
        step = self.runner.asking_step
        self.runner.resolve_found(CANCEL)  # the engine on the old queue is let go
        reason = self.choose_backend(fresh_url)
        if reason is not None:
            self.show_error("Cannot use a fresh queue", reason)
            return
        self.status(f"Fresh queue: {redact_url(fresh_url)}")
        if step:
            self.runner.step()
        else:
            self.runner.toggle()

    def may_import_handler(self, scenario: Scenario) -> bool:
        """Ask before a live run imports the module a scenario's handler names (its code
        runs); the answer is remembered per scenario file in the settings."""
        name = scenario.service.handler
        module = handler_module(name)
        if not module or is_trusted(name, trusted_modules(os.environ.get(TRUSTED_ENV, ""))):
            return True
        if files.handler_consented(self.scenario_path, module):
            return True
        where = self.scenario_path.name if self.scenario_path else "this scenario"
        answer = QMessageBox.question(
            self, "Import the handler's module?",
            f"Live runs of {where} call its handler {name!r}: QueueLab will import the "
            f"Python module {module!r}, which runs that module's code on this computer.\n\n"
            "Import it only if you trust where the scenario came from. Simulated runs never "
            "import it.", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return False
        files.remember_handler_consent(self.scenario_path, module)
        return True

    # -- run control ----------------------------------------------------------------------------

    def toggle_run(self) -> None:
        engine = self.runner.engine
        if engine is not None and engine.state == RunState.FINISHED:
            self.reset()
            engine = self.runner.engine
        if engine is not None and engine.state == RunState.IDLE and not self._large_run_ok():
            return
        self.runner.toggle()

    def _large_run_ok(self) -> bool:
        """A run within budget but large (core.budget.large_run): ask before starting it."""
        why = large_run(self.scenario) if self.runner.kind == SIMULATED else None
        if why is None:
            return True
        answer = QMessageBox.question(
            self, "Start a large run?", f"{why} Start it anyway? (A shorter duration or a "
            "longer sample interval makes it smaller.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def reset(self) -> None:
        """Discard the run; a new idle engine from the scenario as it is now."""
        try:
            self.runner.build(self.scenario)
        except Exception as exc:
            self.show_error("Cannot rebuild the engine", f"{exc}")

    def set_speed(self, speed: float | None) -> None:
        self.runner.set_speed(speed)
        self.controls.set_speed(speed)
        self._show_state(self.runner.engine.state if self.runner.engine else None)

    def set_mode(self, kind: str) -> None:
        """Switch between the simulated and the live engine (a fresh run either way). A live
        run at time scale 1 would take the scenario's whole duration in real time: a scale
        that plays it in a few minutes is proposed (shown, and editable before Start)."""
        if kind == self.runner.kind:
            return
        proposed = proposed_time_scale(self.scenario.run.duration) \
            if kind == LIVE and self.scenario.run.time_scale == 1.0 else None
        if proposed is not None:
            self.scenario = rebuild(self.scenario, ParamChange("run.time_scale", proposed),
                                    self._base_dir())
            self.form.update_values(self.scenario)
            self.setWindowModified(True)
            self.status(f"Live: time scale {proposed:g} plays "
                        f"{format_clock(self.scenario.run.duration)} in "
                        f"{format_clock(self.scenario.run.duration * proposed)}; change it "
                        "beside the speed buttons")
        try:
            self.runner.build(self.scenario, kind)
        except Exception as exc:
            self.controls.set_mode(self.runner.kind)
            self.show_error(f"Cannot start the {kind} engine", f"{type(exc).__name__}: {exc}")

    def _on_engine(self, engine: Engine) -> None:
        self.history.clear()
        self.plots.clear()
        self._marked, self._last_marked = 0, None
        self._engine_broken = False
        self._rate_mark = None
        self._dead_count = -1
        self._update_reference()
        self.workers.workers_model.update([])
        self.tabs.setTabText(TAB_WORKERS, "Workers (0)")
        self.message.clear()  # nothing said about the previous run holds for this one
        self.controls.set_mode(engine.kind)
        simulated = engine.kind == SIMULATED
        self.controls.set_speed_enabled(
            simulated, MONITOR_SPEED_REASON if engine.kind == MONITOR else "",
            time_scale=engine.kind != MONITOR)
        self.controls.set_backend(self.secrets.full(engine.scenario.queue.backend))
        run = engine.scenario.run
        self.controls.set_time_scale(run.time_scale, run.duration)
        self.controls.set_time_scale_enabled(engine.state == RunState.IDLE)
        set_engine = getattr(self.dead_letters, "set_engine", None)
        if set_engine is not None:
            set_engine(engine)
        self.monitor.attach(engine)
        watching = engine.kind == MONITOR
        self.plots.set_gaps(watching)  # an unreachable source: a gap, not a line across
        self._due.clear()
        self.refresh()

    def _on_state(self, state: RunState | None) -> None:
        self.controls.set_state(state or RunState.IDLE)
        self.controls.set_time_scale_enabled(state in (None, RunState.IDLE))
        self.form.set_running(state in ACTIVE)
        self.form.update_values(self._knobs_in_view())
        if state not in ACTIVE:
            self.form.clear_notes()  # the scenario's own values again
        self._show_state(state)
        if state == RunState.FINISHED:
            self.status("Run finished: press Run again, or Reset to change any knob")
        self._due.clear()  # the panes show the state the run stopped in
        self.refresh()

    def _show_state(self, state: RunState | None) -> None:
        """The state and speed in the status bar; the pace is measured afresh from here."""
        speed = self.runner.speed
        pace = "max speed" if speed is None else f"{speed:g}×"
        if self.runner.engine is not None and self.runner.engine.kind == LIVE:
            pace = f"live × {1 / self.runner.engine.scenario.run.time_scale:g}"
        if self.runner.engine is not None and self.runner.engine.kind == MONITOR:
            pace = f"watching every {self.runner.engine.scenario.run.sample_interval:g} s"
        text = {RunState.RUNNING: f"running · {pace}", RunState.PAUSED: "paused",
                RunState.IDLE: "ready", RunState.STOPPING: "stopping",
                RunState.FINISHED: "finished"}.get(state, "")  # type: ignore[arg-type]
        self.state_label.setText(text)
        self._rate_mark = None
        self.rate_label.clear()

    def _on_frames(self, frames: list[MetricsFrame]) -> None:
        engine = self.runner.engine  # a monitored queue's arrivals are no scenario's: no λ(t)
        if not frames:
            return
        offered = None if engine is None or engine.kind == MONITOR else offered_in_force(
            engine.scenario, engine.changes, [f.t for f in frames])
        # changes the theory lines have not followed yet (a timeline's, or several at max
        # speed, come with the frames they cut): each stretch of frames gets the theory of
        # the knobs in force in it, not the one in force when the batch arrived
        start, reference = 0, self._reference
        if engine is not None and self._growth is None and not engine.shared:
            times = [f.t for f in frames]
            new = [c for c in engine.changes[self._referenced:] if c.t < times[-1]]
            for cut in sorted({c.t for c in new}):
                end = bisect_right(times, cut)
                part = None if offered is None else offered[start:end]
                self.history.append(frames[start:end], reference, None, part)
                start, reference = end, theory_reference(segment_theory(
                    scenario_at(engine.scenario, engine.changes, cut)))
            self._reference = reference
            self._referenced += len(new)
        self.history.append(frames[start:], reference, self._growth,
                            None if offered is None else offered[start:])
        self.plots.mark_dirty()

    def _update_reference(self) -> None:
        """The theory lines from now on: Erlang C's steady state, or for an unstable M/M/c
        queue (λ ≥ cμ) the line it grows along from where it is now."""
        engine = self.runner.engine
        pred = None if engine is None else engine.reference()  # None on a shared queue
        # the knobs in force, Erlang C or M/M/c/K (a timeline's next change is a new segment)
        theory = None if engine is None or engine.shared else segment_theory(engine.scenario)
        self._growth = None
        self._reference = theory_reference(theory)
        self._referenced = 0 if engine is None else len(engine.changes)
        if pred is not None:
            capacity = pred.servers * pred.service_rate
            if not pred.stable and engine is not None and pred.arrival_rate > capacity:
                depth = self.history.last("depth", 1)
                self._growth = Growth(engine.now, float(depth[0]) if depth.size else 0.0,
                                      pred.arrival_rate - capacity, capacity)
        self.plots.set_reference_shown(theory is not None and theory.model is not None)
        if engine is not None:
            self.plots.name_offered(engine.scenario.arrivals.process)

    # -- periodic refresh -----------------------------------------------------------------------

    def _is_due(self, key: str, every: float, now: float) -> bool:
        if now >= self._due.get(key, 0.0):
            self._due[key] = now + every
            return True
        return False

    def refresh(self) -> None:
        """Redraw what changed: plots, clock, totals, and the visible tab at its own pace."""
        engine = self.runner.engine
        self.plots.redraw()
        if engine is None or self._engine_broken:
            return
        now = time.monotonic()
        try:
            self.monitor.refresh()
            self.controls.set_clock(engine.now, None if engine.kind == MONITOR
                                    else engine.scenario.run.duration)
            totals = engine.totals()
            self.totals.show_totals(totals)
            shared = engine.shared
            if shared != self._shared:
                self._shared = shared
                self._update_reference()
                if shared:
                    self.status(f"This queue is shared: {shared}", 15000)
            self._sync_markers(engine)
            if self.plots.running_shown:
                self.plots.set_running_since(
                    segments(engine.changes, engine.now, engine.scenario)[-1].measured_from)
            tab = self.tabs.currentIndex()
            if self._is_due("workers", WORKERS_EVERY if tab == TAB_WORKERS else 1.0, now):
                ws = engine.workers()  # the count on the tab stays true when it is hidden
                if tab == TAB_WORKERS:
                    self.workers.workers_model.update(ws)
                self.tabs.setTabText(TAB_WORKERS, f"Workers ({len(ws):,})")
            if tab == TAB_THEORY and self._is_due("theory", THEORY_EVERY, now):
                self.theory.refresh(engine, self.history)
            dead_n = totals.dead_lettered
            if dead_n != self._dead_count:
                self.tabs.setTabText(TAB_DEAD, f"Dead letters ({dead_n:,})")
            if (tab == TAB_DEAD and (dead_n != self._dead_count or self._due.get("dead") is None)
                    and self._is_due("dead", DEAD_LETTERS_EVERY, now)):
                refresh = getattr(self.dead_letters, "refresh", None)
                if refresh is not None:
                    refresh()
            self._dead_count = dead_n
            if self._is_due("rate", RATE_EVERY, now):
                self._update_rate(engine, now)
        except Exception as exc:  # reported once, not at every refresh, until the next reset
            self._engine_broken = True
            self.runner.fail(exc)

    def _sync_markers(self, engine: Engine, by_hand: AppliedChange | None = None) -> None:
        """Mark every change the engine recorded: the form's edits (`by_hand`, just applied),
        the dead-letter pane's reprocess/discard and the timeline's alike. The engine may fold
        a bulk action's slices into its last change; that marker is then updated rather than
        doubled. A knob the timeline changed is shown in the form, said to be the timeline's."""
        changes = engine.changes
        n = self._marked
        if n and n <= len(changes) and changes[n - 1] is not self._last_marked:
            self._last_marked = changes[n - 1]
            self.plots.update_last_marker(self._last_marked)
        scripted = []
        for change in changes[n:]:
            self.plots.add_marker(change)
            self._last_marked = change
            if change is not by_hand and change.path in self.form.fields:
                scripted.append(change)
        if scripted and engine.state in ACTIVE:
            self.form.update_values(engine.scenario)
            for change in scripted:
                self.form.note(change.path, timeline_note(engine.scenario.timeline, change))
        if len(changes) > n:  # (a timeline's change too): the theory lines follow the knobs
            self._update_reference()
        self._marked = len(changes)

    def _update_rate(self, engine: Engine, now: float) -> None:
        created = engine.totals().created
        mark, self._rate_mark = self._rate_mark, (now, created)
        if mark is None or engine.state != RunState.RUNNING or now <= mark[0]:
            self.rate_label.setText("")
            return
        rate = (created - mark[1]) / (now - mark[0])
        self.rate_label.setText(f"pace {rate:,.0f} tasks/s")

    # -- messages -------------------------------------------------------------------------------

    def show_event_log(self) -> None:
        """What each step of the simulated run did, in a window beside this one."""
        box = self._event_log_box
        if box is None:
            box = self._event_log_box = QPlainTextEdit()
            box.setReadOnly(True)
            box.setWindowTitle("Event log: one line per step")
            box.resize(640, 400)
        lines = self.runner.event_log
        box.setPlainText("\n".join(lines) if lines else
                         "No steps yet: Step (Ctrl+.) on an idle or paused simulated run "
                         "advances one event and says which here.")
        box.show()
        box.raise_()

    def status(self, text: str, ms: int = 8000) -> None:
        self.message.setText(text)
        self._message_timer.start(ms)

    def show_error(self, title: str, text: str) -> None:
        """Explain a failure in a dialog that does not block the event loop; the app goes on."""
        self.last_error = text
        self.status(f"{title}: {text.splitlines()[0] if text else ''}", 15000)
        box = QMessageBox(QMessageBox.Icon.Warning, title, text, QMessageBox.StandardButton.Ok,
                          self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("error_dialog")
        box.open()

    def _update_title(self) -> None:
        name = self.scenario.name or "Untitled"
        where = f" ({self.scenario_path.name})" if self.scenario_path else ""
        self.setWindowTitle(f"{name}{where}[*] — QueueLab")

    def _about(self) -> AboutDialog:
        box = AboutDialog(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def open_readme(self, anchor: str = "") -> QUrl | None:
        """Open a section of the README in the desktop's viewer for Markdown files."""
        path = help_links.readme_file()
        if path is None:
            self.show_error("No README in this install", "This copy of QueueLab was installed "
                            "without its README.")
            return None
        url = QUrl.fromLocalFile(str(path))
        if anchor:
            url.setFragment(anchor)
        if not QDesktopServices.openUrl(url):
            self.status(f"No program to open {path} here")
        return url

    # -- file dialogs ---------------------------------------------------------------------------

    def _open_dialog(self) -> None:
        start = str(self._base_dir() or files.shipped_scenarios_dir() or Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Open scenario", start,
                                              "Scenarios (*.toml);;All files (*)")
        if path:
            self.open_file(path)

    def _save(self) -> None:
        if self.scenario_path is None:
            self._save_as_dialog()
        else:
            self.save_file(self.scenario_path)

    def _save_as_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save scenario", str(
            self.scenario_path or Path.home() / "scenario.toml"), "Scenarios (*.toml)")
        if path:
            self.save_file(path)

    def export_csv(self, path: str | Path) -> int:
        """Write the frames held to CSV; returns the number of rows written."""
        try:
            n = files.export_frames_csv(path, self.history)
        except OSError as exc:
            self.show_error("Cannot export the frames",
                            f"Cannot export the frames to {path}: {_os_reason(exc, path)}")
            return 0
        note = "" if self.history.complete else \
            f" (the newest {n:,} of {self.history.total:,}: older frames are only in the plots)"
        self.status(f"Wrote {n:,} frames to {path}{note}")
        return n

    def export_png(self, path: str | Path) -> bool:
        ok = self.plots.canvas.grab().save(str(path))
        if ok:
            self.status(f"Saved the plots to {path}")
        else:
            self.show_error("Cannot export the plots", f"Cannot export the plots to {path}: "
                            f"{_path_problem(Path(path))}")
        return bool(ok)

    def _export_csv_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export frames", str(Path.home() /
                                              "frames.csv"), "CSV files (*.csv)")
        if path:
            self.export_csv(path)

    def _export_history_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export monitor history", str(
            Path.home() / "queue-history.csv"), "CSV files (*.csv)")
        if path:
            self.export_history(path)

    def export_history(self, path: str | Path) -> bool:
        """Monitor mode: the history samples of the time range the plots show, as CSV."""
        engine = self.runner.engine
        if engine is None or engine.kind != MONITOR:
            return False
        try:
            n = export_history_csv(engine, self.plots.x_range(), Path(path))
        except OSError as exc:
            self.show_error("Cannot export the history", _os_reason(exc, path))
            return False
        self.status(f"Exported {n:,} samples to {path}")
        return True

    def _export_png_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export plots", str(Path.home() /
                                              "plots.png"), "PNG images (*.png)")
        if path:
            self.export_png(path)

    def _update_recent_menu(self) -> None:
        self.recent_menu.clear()
        for p in files.recent_files():
            act = self.recent_menu.addAction(p)
            act.triggered.connect(lambda _=False, path=p: self.open_file(path))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    # -- settings -------------------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = files.settings()
        geometry = s.value("window/geometry")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        state = s.value("window/state")
        if isinstance(state, QByteArray):
            self.restoreState(state)
        for splitter in (self.main, self.right):
            sizes = s.value(f"window/{splitter.objectName()}")
            if isinstance(sizes, QByteArray):
                splitter.restoreState(sizes)
                self._split_set = self._split_set or splitter is self.right
        speed = s.value("run/speed", DEFAULT_SPEED)
        self.set_speed(None if speed in (None, "max", "") else float(speed))  # type: ignore[arg-type]
        if not self._restore_scenario(s.value("scenario/toml"), s.value("scenario/path")):
            self.set_scenario(Scenario(), None)

    def _restore_scenario(self, text: object, path: object) -> bool:
        """The scenario the last session ended with, edits included; False if unusable."""
        if not isinstance(text, str) or not text:
            return False
        p = Path(path) if isinstance(path, str) and path else None
        try:
            scenario = resolve_data(scenario_toml.loads(text, require_data=False),
                                    p.parent if p else None)
        except (ScenarioError, OSError):
            return False
        return self.set_scenario(scenario, p if p and p.is_file() else None)

    def save_settings(self) -> None:
        s = files.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        for splitter in (self.main, self.right):
            s.setValue(f"window/{splitter.objectName()}", splitter.saveState())
        speed = self.runner.speed
        s.setValue("run/speed", "max" if speed is None else speed)
        s.setValue("scenario/toml", scenario_toml.dumps(self.scenario, comments=False))
        s.setValue("scenario/path", str(self.scenario_path) if self.scenario_path else "")
        s.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._refresh_timer.stop()
        self.comparison.stop()
        self.tune.stop()
        hockey_view.stop_hockey(self)
        self.runner.halt()
        self.save_settings()
        super().closeEvent(event)
