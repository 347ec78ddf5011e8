"""Compare runs: pin the current run as a baseline, draw pinned runs as ghost curves on
every plot, fill the Compare tab, and draw the SLO with the run's overall percentiles.

The window makes one `Comparison` and adds its pane as a tab; everything else about pins
(the action and its shortcut, replications in the background, saving a pin's scenario)
lives here, so the window's own code only wires it in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QAction, QColor, QKeySequence
from PySide6.QtWidgets import QFileDialog

from queuelab.core.changes import in_force
from queuelab.core.engine import RunState
from queuelab.gui.background import WORKER_NICE, ResultsThread
from queuelab.gui.compare_pane import ComparePane
from queuelab.gui.pins import MAX_PINS, PinnedRun, Pins, frame_statistics, snapshot
from queuelab.io.scenario_files import save_scenario
from queuelab.tuning.executors import LocalPool
from queuelab.tuning.points import with_seed
from queuelab.tuning.runner import (
    FRAME_STATISTIC,
    RunTask,
    ViolationCounter,
    run_point,
    summary_figures,
)

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from queuelab.core.engine import Engine
    from queuelab.core.metrics import MetricsFrame
    from queuelab.gui.main_window import MainWindow
    from queuelab.tuning.spec import CostModel, Objective

REFRESH_MS = 1000  # the current run's figures: once a second while a run goes on
PIN_SHORTCUT = "Ctrl+B"


class Comparison(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.pins = Pins()
        self.pane = ComparePane()
        self.pane.setObjectName("compare_pane")
        self.counter = ViolationCounter(self.objective, 0.0)
        self._share_known = True  # False once the SLO changed and older frames are gone
        self.current: dict[str, Any] | None = None  # the current run's figures
        self._threads: list[ResultsThread] = []
        self.pin_action = QAction("Pin run", window)
        self.pin_action.setShortcut(QKeySequence(PIN_SHORTCUT))
        self.pin_action.setToolTip(f"Pin this run as a baseline ({PIN_SHORTCUT}): its curves "
                                   f"stay on the plots beside the next runs (up to {MAX_PINS})")
        self.pin_action.triggered.connect(self.pin)
        self.pane.pin_requested.connect(self.pin)
        self.pane.visibility_changed.connect(self._set_visible)
        self.pane.rename_requested.connect(self._rename)
        self.pane.remove_requested.connect(lambda i: self.remove(self.pins.runs[i]))
        self.pane.save_requested.connect(self._save_dialog)
        self.pane.objective_editor.changed.connect(self._objective_changed)
        window.runner.frames_ready.connect(self._on_frames)
        window.runner.engine_replaced.connect(self._on_engine)
        window.runner.state_changed.connect(self._on_state)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.refresh)
        self._timer.start(REFRESH_MS)
        self._show_objective()
        self._show_pins()
        window.plots.plots["queue"].lines_source = self.thresholds

    def thresholds(self, x: NDArray[np.float64], columns: dict[str, NDArray[np.float64]]
                   ) -> dict[str, NDArray[np.float64]]:
        """The autoscaler's thresholds in force at each row (NaN where another autoscaler, or
        none, ruled): they step where the knobs were changed during the run."""
        engine = self.window.runner.engine
        if engine is None or engine.scenario.pool.strategy != "dynamic":
            return {}
        pool, changes = engine.scenario.pool, engine.changes

        def at(name: str) -> NDArray[Any]:
            steps = in_force(f"pool.{name}", getattr(pool, name), changes)
            starts = np.array([start for start, _ in steps])
            values = np.array([value for _, value in steps])
            return values[np.searchsorted(starts, x, side="right") - 1]  # value_at, per row

        kind = at("autoscaler")
        nan = np.full(x.shape, np.nan)
        threshold = kind == "threshold"
        return {
            "scale_up": np.where(threshold, at("scale_up_threshold").astype(float), nan),
            "scale_down": np.where(threshold, at("scale_down_threshold").astype(float), nan),
            "target": np.where(~threshold, at("target_per_worker").astype(float)
                               * columns["workers"], nan),
        }

    # -- the objective --------------------------------------------------------------------------

    @property
    def objective(self) -> Any:
        return self.pane.objective_editor.objective

    @property
    def cost(self) -> Any:
        return self.pane.objective_editor.cost

    def set_objective(self, objective: Objective, cost: CostModel) -> None:
        """Take another SLO and cost model (a sweep file's), as if edited."""
        self.pane.objective_editor.set_values(objective, cost)
        self._objective_changed()

    def _objective_changed(self) -> None:
        """A new SLO or cost model: every figure that depends on it is counted again.

        The current run's and each pinned run's own share of frames over the SLO are
        counted again from their frames (unknown, NaN, when the window no longer holds all
        of them); a pin's background replications ran under the old SLO, so theirs become
        unknown rather than wrong. Costs are recomputed from worker-hours and starts.
        """
        engine = self.window.runner.engine
        self.counter = ViolationCounter(self.objective,
                                        engine.scenario.run.warmup if engine else 0.0)
        h = self.window.history
        self._share_known = h.complete
        if self.counter.statistic is not None and len(h) and h.complete:
            self.counter.add_columns(h.last("t", len(h)), h.last(self.counter.statistic, len(h)))
        for pin in self.pins.runs:
            runs = [self._refigure(r) for r in pin.runs]
            for i, r in enumerate(runs):
                r["slo_violation_share"] = self._pin_share(pin) if i == 0 else math.nan
            pin.runs = runs
        self._show_objective()
        self.refresh(force=True)

    def _pin_share(self, pin: PinnedRun) -> float:
        """A pinned run's share of frames over the current SLO, from its kept frames."""
        if pin.frames is None:
            return math.nan
        counter = ViolationCounter(self.objective, pin.scenario.run.warmup)
        if counter.statistic is None:
            return math.nan
        counter.add_columns(pin.frames["t"], pin.frames[counter.statistic])
        return counter.share

    def _refigure(self, figures: dict[str, Any]) -> dict[str, Any]:
        out = dict(figures)
        out["cost"] = self.cost.cost(figures["worker_hours"] * 3600.0, figures["worker_starts"])
        return out

    def _show_objective(self) -> None:
        o = self.objective
        overall = None
        if self.current is not None:
            overall = {k: self.current[k] for k in ("wait_p95", "wait_p99")}
        self.window.plots.set_objective(FRAME_STATISTIC.get(o.metric), o.limit, overall)

    # -- the current run ------------------------------------------------------------------------

    def _on_engine(self, engine: Engine) -> None:
        self.counter = ViolationCounter(self.objective, engine.scenario.run.warmup)
        self._share_known = True
        self.current = None
        self._show_objective()
        self.refresh(force=True)

    def _on_frames(self, frames: list[MetricsFrame]) -> None:
        self.counter.add_frames(frames)

    def _on_state(self, state: RunState | None) -> None:
        if state in (RunState.FINISHED, RunState.PAUSED):
            self.refresh(force=True)

    def current_figures(self) -> dict[str, Any] | None:
        """The current run's figures (summary after the warm-up), None before it started."""
        engine = self.window.runner.engine
        if engine is None or engine.state == RunState.IDLE:
            return None
        try:
            summary = engine.summary()
        except Exception:  # an engine that cannot sum up yet (nothing measured)
            return None
        share = self.counter.share if self._share_known else math.nan
        return summary_figures(summary, self.cost, share)

    def refresh(self, force: bool = False) -> None:
        engine = self.window.runner.engine
        running = engine is not None and engine.state == RunState.RUNNING
        if not (force or running):
            return
        self.current = self.current_figures()
        self._show_objective()
        if force or self.pane.isVisible():
            self._show_table()

    def _show_table(self) -> None:
        columns: list[tuple[str, list[dict[str, Any]]]] = [
            (p.name + ("" if len(p.runs) < 2 else f" ({len(p.runs)} seeds)"), p.runs)
            for p in self.pins.runs]
        columns.append(("current", [self.current] if self.current else []))
        self.pane.show_runs(columns)

    # -- pins -----------------------------------------------------------------------------------

    def pin(self) -> PinnedRun | None:
        """Pin the current run (with its scenario and figures); None, and why, if it cannot be."""
        w = self.window
        engine = w.runner.engine
        figures = self.current_figures()
        if engine is None or figures is None or not len(w.history):
            w.status("Nothing to pin yet: run the scenario first")
            return None
        if self.pins.full:
            w.status(f"At most {MAX_PINS} pinned runs: remove one in the Compare tab first")
            return None
        scenario = engine.scenario
        pin = self.pins.add(scenario, snapshot(w.history), figures, scenario.run.seed)
        pin.frames = frame_statistics(w.history)
        extra = self.pane.seeds.value() - 1
        if extra > 0 and engine.kind == "simulated":
            self._replicate(pin, extra)
        self._show_pins()
        self._draw_ghosts()
        self.refresh(force=True)
        w.status(f"Pinned this run as {pin.name!r}: change knobs and run again to compare")
        return pin

    def _replicate(self, pin: PinnedRun, extra: int) -> None:
        """Run the pin's scenario with `extra` more seeds in the background."""
        first = pin.scenario.run.seed + 1
        tasks = [RunTask(0, first + i, with_seed(pin.scenario, first + i), self.objective,
                         self.cost) for i in range(extra)]
        pin.pending = extra

        def results() -> Iterator[Any]:
            with LocalPool(min(extra, LocalPool().slots), nice=WORKER_NICE) as pool:
                yield from pool.run(iter(tasks), run_point)

        thread = ResultsThread(results, self)

        def got(outcome: Any) -> None:
            task, figures, _reason = outcome
            pin.pending -= 1
            if figures is not None and pin in self.pins.runs:
                pin.runs.append(figures)
                pin.seeds.append(task.seed)
            self._show_pins()
            self.refresh(force=True)

        def finished(error: str) -> None:
            pin.pending = 0
            if error:
                self.window.status(f"Replications of {pin.name!r} failed: {error}")
            self._threads.remove(thread)
            thread.wait(10000)  # done was its last word: it returns at once
            self._show_pins()

        thread.result.connect(got)
        thread.done.connect(finished)
        self._threads.append(thread)
        thread.start()

    def remove(self, pin: PinnedRun) -> None:
        self.pins.remove(pin)
        self._show_pins()
        self._draw_ghosts()
        self.refresh(force=True)

    def _set_visible(self, index: int, shown: bool) -> None:
        pin = self.pins.runs[index]
        if pin.visible != shown:
            pin.visible = shown
            self._draw_ghosts()

    def _rename(self, index: int, name: str) -> None:
        pin = self.pins.runs[index]
        if name == pin.name:
            return
        why = self.pins.rename(pin, name)
        if why:
            self.window.status(f"Cannot rename {pin.name!r}: {why}")
        self._show_pins()
        self._draw_ghosts()
        self.refresh(force=True)

    def save_pin(self, pin: PinnedRun, path: str | Path) -> bool:
        try:
            save_scenario(path, pin.scenario)
        except OSError as exc:
            self.window.show_error("Cannot save the scenario",
                                   f"Cannot save {pin.name!r} to {path}: {exc.strerror or exc}")
            return False
        self.window.status(f"Saved the scenario of {pin.name!r} to {path}")
        return True

    def _save_dialog(self, index: int) -> None:
        pin = self.pins.runs[index]
        path, _ = QFileDialog.getSaveFileName(self.window, f"Save the scenario of {pin.name}",
                                              str(Path.home() / f"{pin.name}.toml"),
                                              "Scenarios (*.toml)")
        if path:
            self.save_pin(pin, path)

    def refresh_pins(self) -> None:
        """Show the pins again after a change made from elsewhere (a rename)."""
        self._show_pins()
        self._draw_ghosts()
        self.refresh(force=True)

    def _show_pins(self) -> None:
        rows = []
        for i, p in enumerate(self.pins.runs):
            note = ("the baseline: the others are compared to it" if i == 0 else
                    "compared to the baseline")
            seeds = ", ".join(str(s) for s in p.seeds)
            note += f"; seeds {seeds}" + (f", {p.pending} running" if p.pending else "")
            rows.append((p.name, p.color, p.visible, note))
        self.pane.show_pins(rows)
        self.pin_action.setEnabled(not self.pins.full)

    def _draw_ghosts(self) -> None:
        self.window.plots.set_ghosts([(p.name, QColor(p.color), p.columns)
                                      for p in self.pins.runs if p.visible])

    def stop(self) -> None:
        """Stop the background runs (the window closes)."""
        for thread in list(self._threads):
            thread.stop()
            thread.wait(30000)

