"""Make docs/screenshot.png and docs/screenshot-dark.png: the real app, mid-run, as the
README shows it, in the light and the dark color scheme.

Starts a virtual X server (Xvfb) when there is no display and Xvfb is installed, so the app
runs on the same xcb platform as on a desktop; otherwise it falls back to Qt's offscreen
platform. It opens a shipped scenario, runs it, lowers an autoscaler threshold part-way (so a
change marker shows), and saves the window's pixels; with `--theme both` (the default) it
saves them once light and once dark, the same moment of the same run.

    .venv/bin/python scripts/screenshot.py [--theme both|light|dark|system] [--scenario FILE]
        [--until 2400] [--out PATH] [--dark-out PATH]

With `--lesson N` it opens a lesson (a shipped one's number, or a file) instead, shows its
step `--step`, ticks the prediction `--choice`, and runs that step to `--until` seconds
(paused there), or to its end when `--until` is the run's duration or more (the checks then
show):

    .venv/bin/python scripts/screenshot.py --lesson 6 --step 1 --until 150 --window 600 \
        --theme light --width 1280 --height 800 --out docs/lessons/retry-storm-during.png

Needs on Debian/Ubuntu: apt-get install -y xvfb libxcb-icccm4 libxcb-keysyms1 fonts-dejavu-core
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def start_display(width: int, height: int) -> subprocess.Popen[bytes] | None:
    """A private Xvfb display when none is set and Xvfb exists; None otherwise."""
    if os.environ.get("DISPLAY") or not shutil.which("Xvfb"):
        return None
    for n in range(90, 110):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            break
    else:
        return None
    proc = subprocess.Popen(["Xvfb", f":{n}", "-screen", "0", f"{width}x{height}x24", "-nolisten",
                             "tcp"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not Path(f"/tmp/.X11-unix/X{n}").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            return None
        time.sleep(0.05)
    os.environ["DISPLAY"] = f":{n}"
    os.environ["QT_QPA_PLATFORM"] = "xcb"
    return proc


async def settle(window: object) -> None:
    """Let layout and painting catch up before the pixels are taken."""
    window.refresh()  # type: ignore[attr-defined]
    for _ in range(10):
        await asyncio.sleep(0.02)


def save(window: object, path: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(out)):  # type: ignore[attr-defined]
        raise SystemExit(f"could not write {out}")
    return out


async def shoot(args: argparse.Namespace) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from queuelab.core.engine import RunState
    from queuelab.gui.main_window import (
        TAB_COMPARE,
        TAB_DEAD,
        TAB_THEORY,
        TAB_TUNE,
        TAB_WAITS,
        TAB_WORKERS,
        MainWindow,
    )
    from queuelab.gui.theme import DARK, LIGHT, ThemeController

    window = MainWindow(restore=False)
    window.resize(args.width, args.height)
    window.move(0, 0)
    if args.maximized:
        window.showMaximized()
    else:
        window.show()
    if args.lesson:
        return await lesson_moment(window, args)
    if not window.open_file(args.scenario):
        raise SystemExit(f"cannot open {args.scenario}: {window.last_error}")
    tabs = {"workers": TAB_WORKERS, "dead": TAB_DEAD, "waits": TAB_WAITS, "theory": TAB_THEORY,
            "compare": TAB_COMPARE, "tune": TAB_TUNE}
    window.tabs.setCurrentIndex(tabs[args.tab])
    if args.running_mean:  # View ▸ Running means since the last change
        window.running_action.trigger()
    window.controls.set_window(args.window)
    window.plots.set_window(args.window)
    if args.slo:
        window.comparison.pane.objective_editor.limit.setValue(args.slo)
    window.comparison.pane.seeds.setValue(args.seeds)
    for pin in args.pin:  # runs pinned before the one shown: KNOB=VALUE[,KNOB=VALUE…]
        for change in pin.split(","):
            knob, value = change.split("=", 1)
            window.form.fields[knob].editor.set_value(float(value))
            window.form.fields[knob].editor.committed.emit(window.form.fields[knob].editor.value())
        pinned_engine = window.runner.engine
        assert pinned_engine is not None
        window.set_speed(None)
        window.toggle_run()
        while pinned_engine.state != RunState.FINISHED:
            await asyncio.sleep(0.01)
        made = window.comparison.pin()
        assert made is not None
        while made.pending:
            await asyncio.sleep(0.05)
        window.reset()
    if args.pin:
        window.open_file(args.scenario)  # the current run: the scenario as shipped
    engine = window.runner.engine
    assert engine is not None

    async def run_to(t: float) -> None:
        window.set_speed(200.0)  # fast, yet paced: it stops close to `t`
        if engine.state != RunState.RUNNING:
            window.toggle_run()
        while engine.now < t and engine.state == RunState.RUNNING:
            await asyncio.sleep(0.005)
        if engine.state == RunState.RUNNING:
            window.toggle_run()

    changes = [(args.knob, args.value)] + [
        (k, float(v)) for k, v in (c.split("=", 1) for c in args.also)]
    for i, (knob, value) in enumerate(changes):
        await run_to(args.until * (0.55 + 0.3 * i / max(1, len(changes))))
        field = window.form.fields.get(knob)
        if field is not None and field.editor.widget.isEnabled():
            field.editor.set_value(value)  # shown as a person would type it …
            field.editor.committed.emit(field.editor.value())  # … and committed
    await run_to(args.until)
    if args.sweep:  # a sweep over these axes, shown in the Tune tab
        from queuelab.tuning.axes import axis_from

        for spec in args.sweep:
            path, rest = spec.split("=", 1)
            kind, numbers = rest.split(":", 1)
            start, stop, count = (float(v) for v in numbers.split(","))
            window.tune.add_axis(axis_from(path, {kind: [start, stop, count]}, path))
        window.tune.seeds.setValue(args.seeds)
        window.tune.confirm_long = lambda sweep, seconds: sweep
        window.tune.start()
        while window.tune.sweep_thread is not None:
            await asyncio.sleep(0.05)
        window.tabs.setCurrentIndex(TAB_TUNE)
        window.tune.view_box.setCurrentIndex(1 if args.heat else 0)
    window.set_speed(10.0)  # resume at a speed a person would watch at: the run is live
    window.toggle_run()
    await asyncio.sleep(1.2)  # a second of running: the pace shows, 12 s of scenario pass
    await settle(window)
    written = []
    if args.theme == "both":
        theme = QApplication.instance().findChild(ThemeController)  # type: ignore[union-attr]
        written.append(save(window, args.out))
        theme.set_choice(DARK)
        await settle(window)
        written.append(save(window, args.dark_out))
        theme.set_choice(LIGHT)
    else:
        written.append(save(window, args.dark_out if args.theme == DARK else args.out))
    window.close()
    await window.runner.shutdown()
    return written


async def lesson_moment(window: object, args: argparse.Namespace) -> list[Path]:
    """A lesson's step run to `args.until` (or its end, checks shown), saved as one picture."""
    from queuelab.core.engine import RunState
    from queuelab.gui.lesson_pane import open_in_dock
    from queuelab.lessons.files import find_lesson

    pane = window.lessons  # type: ignore[attr-defined]
    if not open_in_dock(window, pane, find_lesson(args.lesson)):  # type: ignore[arg-type]
        raise SystemExit(f"cannot open the lesson {args.lesson}")
    pane.show_step(args.step - 1)
    window.controls.set_window(args.window)  # type: ignore[attr-defined]
    window.plots.set_window(args.window)  # type: ignore[attr-defined]
    if args.choice:
        pane.choices.button(args.choice - 1).setChecked(True)
    engine_duration = window.scenario.run.duration  # type: ignore[attr-defined]
    pane.run_step()
    engine = window.runner.engine  # type: ignore[attr-defined]
    if args.until < engine_duration:
        window.set_speed(60.0)  # type: ignore[attr-defined]  # paced: it stops close to until
        while engine.now < args.until and engine.state == RunState.RUNNING:
            await asyncio.sleep(0.005)
        window.toggle_run()  # type: ignore[attr-defined]  # paused at the moment shown
    else:
        while args.step - 1 not in pane.results:
            await asyncio.sleep(0.02)
    await settle(window)
    out = save(window, args.dark_out if args.theme == "dark" else args.out)
    window.close()  # type: ignore[attr-defined]
    await window.runner.shutdown()  # type: ignore[attr-defined]
    return [out]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=str(ROOT / "resources/scenarios/bursty-autoscaling.toml"))
    ap.add_argument("--until", type=float, default=3320.0, help="scenario seconds to run")
    ap.add_argument("--knob", default="pool.scale_up_threshold", help="knob changed mid-run")
    ap.add_argument("--value", type=float, default=15.0, help="its new value")
    ap.add_argument("--window", type=float, default=3600.0,
                    help="rolling window of the plots, seconds")
    ap.add_argument("--also", action="append", default=[], metavar="KNOB=VALUE",
                    help="more changes made later in the run (repeatable)")
    ap.add_argument("--pin", action="append", default=[], metavar="KNOB=VALUE[,KNOB=VALUE]",
                    help="first run the scenario to its end with these knobs and pin it "
                    "(repeatable)")
    ap.add_argument("--seeds", type=int, default=1, help="seeds per pinned run or sweep point")
    ap.add_argument("--sweep", action="append", default=[],
                    metavar="KNOB=linspace|logspace:START,STOP,COUNT",
                    help="an axis of a sweep run and shown in the Tune tab (repeatable)")
    ap.add_argument("--heat", action="store_true", help="show the sweep's heat map")
    ap.add_argument("--slo", type=float, default=0.0, help="the SLO's limit, seconds")
    ap.add_argument("--tab", choices=("workers", "dead", "waits", "theory", "compare", "tune"),
                    default="workers",
                    help="the tab shown below the plots")
    ap.add_argument("--lesson", default="", help="open this lesson (a shipped one's number, "
                    "or a file) and run its --step to --until instead")
    ap.add_argument("--step", type=int, default=1, help="the lesson's step to run (from 1)")
    ap.add_argument("--choice", type=int, default=0, help="the prediction ticked (from 1)")
    ap.add_argument("--running-mean", action="store_true",
                    help="draw the running means since the last change (View menu)")
    ap.add_argument("--maximized", action="store_true", help="a maximized window")
    ap.add_argument("--width", type=int, default=1400)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--theme", choices=("both", "light", "dark", "system"), default="both",
                    help="color scheme(s) to shoot (default: both, light then dark)")
    ap.add_argument("--out", default=str(ROOT / "docs/screenshot.png"),
                    help="the light (or system) picture")
    ap.add_argument("--dark-out", default=str(ROOT / "docs/screenshot-dark.png"),
                    help="the dark picture")
    args = ap.parse_args()

    xvfb = start_display(args.width, args.height)
    if not os.environ.get("DISPLAY"):  # a display (real or Xvfb) is used as it is
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        import qasync
        from PySide6.QtCore import QSettings

        from queuelab.gui.app import make_app

        make_app([], "light" if args.theme == "both" else args.theme)
        # a clean settings folder: the picture must not depend on whoever runs the script
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                          tempfile.mkdtemp(prefix="queuelab-shot-"))
        out = qasync.run(shoot(args))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    from PySide6.QtGui import QGuiApplication

    platform = QGuiApplication.platformName() if QGuiApplication.instance() else \
        os.environ.get("QT_QPA_PLATFORM", "xcb")
    for path in out:
        print(f"wrote {path} ({platform} platform)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
