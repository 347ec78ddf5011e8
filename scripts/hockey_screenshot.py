"""Make docs/hockey.png and docs/hockey-dark.png: the hockey-stick dialog after a run of the
steady M/M/c example and a quick sweep of its arrival rate (the pooled queue and one of the
separate ones), light and dark.

    .venv/bin/python scripts/hockey_screenshot.py [--seeds 5] [--out PATH] [--dark-out PATH]

Uses `scripts/screenshot.py`'s display (a private Xvfb when there is none) and saving.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from screenshot import ROOT, save, start_display


async def shoot(args: argparse.Namespace) -> list[Path]:
    from PySide6.QtWidgets import QApplication

    from queuelab.core.engine import RunState
    from queuelab.gui.hockey_view import show_hockey
    from queuelab.gui.main_window import MainWindow
    from queuelab.gui.theme import DARK, LIGHT, ThemeController
    from queuelab.tuning.hockey import hockey_sweep, separate_sweep

    window = MainWindow(restore=False)
    window.resize(1024, 700)
    window.show()
    if not window.open_file(args.scenario):
        raise SystemExit(f"cannot open {args.scenario}: {window.last_error}")
    engine = window.runner.engine
    assert engine is not None
    window.set_speed(None)
    window.toggle_run()
    while engine.state != RunState.FINISHED:
        await asyncio.sleep(0.05)
    dialog = show_hockey(window)
    dialog.start(hockey_sweep(window.scenario, replications=args.seeds),
                 separate_sweep(window.scenario, replications=args.seeds))
    while dialog.running:
        await asyncio.sleep(0.05)
    dialog.refresh()
    await asyncio.sleep(0.3)
    written = [save(dialog, args.out)]
    theme = QApplication.instance().findChild(ThemeController)  # type: ignore[union-attr]
    theme.set_choice(DARK)
    await asyncio.sleep(0.3)
    written.append(save(dialog, args.dark_out))
    theme.set_choice(LIGHT)
    dialog.close()
    window.close()
    await window.runner.shutdown()
    return written


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scenario", default=str(ROOT / "resources/scenarios/steady-mmc.toml"))
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "docs/hockey.png"))
    ap.add_argument("--dark-out", default=str(ROOT / "docs/hockey-dark.png"))
    args = ap.parse_args()
    xvfb = start_display(1024, 700)
    if not os.environ.get("DISPLAY"):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    try:
        import qasync
        from PySide6.QtCore import QSettings

        from queuelab.gui.app import make_app

        make_app([], "light")
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                          tempfile.mkdtemp(prefix="queuelab-shot-"))
        out = qasync.run(shoot(args))
    finally:
        if xvfb is not None:
            xvfb.terminate()
            xvfb.wait(5)
    for path in out:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
