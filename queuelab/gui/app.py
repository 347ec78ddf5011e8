"""`queuelab` with no command: the desktop app on a qasync event loop.

    queuelab [--theme system|light|dark] [SCENARIO.toml]

Qt and asyncio share one loop (qasync), so the live engine's coroutines and the window's
timers run side by side and the simulated engine can be advanced in slices between them.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

import qasync
from PySide6.QtCore import QSize
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from queuelab import __version__
from queuelab.gui.files import APPLICATION, ORGANIZATION
from queuelab.gui.theme import CHOICES, ThemeController, choice_from_env
from queuelab.io.resources import APP_ID, icon_files


def _usage() -> str:
    return ("usage: queuelab [--theme system|light|dark] [SCENARIO.toml]   "
            "(or: queuelab run|scenario …, see queuelab --help)")


def make_app(argv: list[str], theme: str | None = None) -> QApplication:
    """The QApplication with QueueLab's names (QSettings and the window manager use them),
    icon and color scheme (`theme`, else $QUEUELAB_THEME, else the system's)."""
    app = QApplication.instance() or QApplication(["queuelab", *argv])
    assert isinstance(app, QApplication)
    app.setOrganizationName(ORGANIZATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("QueueLab")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName(APP_ID)  # Wayland matches the window to the menu entry by this
    app.setWindowIcon(app_icon())
    controller = app.findChild(ThemeController)
    if controller is None:
        ThemeController(app, theme or choice_from_env())
    elif theme is not None:
        controller.set_choice(theme)
    return app


def _split_theme(args: list[str]) -> tuple[str | None, list[str]] | None:
    """`--theme X` / `--theme=X` taken out of the arguments; None when X is not a theme."""
    rest: list[str] = []
    theme: str | None = None
    it = iter(args)
    for arg in it:
        if arg == "--theme":
            theme = next(it, "")
        elif arg.startswith("--theme="):
            theme = arg.partition("=")[2]
        else:
            rest.append(arg)
    if theme is not None and theme not in CHOICES:
        return None
    return theme, rest


def app_icon() -> QIcon:
    """QueueLab's icon at every rendered size, so each place gets a sharp one."""
    icon = QIcon()
    try:
        for size, path in icon_files().items():
            icon.addFile(str(path), QSize(size, size))
    except FileNotFoundError:  # icons not rendered in this checkout: Qt's default then
        return QIcon()
    return icon


async def run_window(path: str | None) -> int:
    """Show the main window, optionally with a scenario file, until it is closed."""
    from queuelab.gui.main_window import MainWindow

    app = QApplication.instance()
    assert isinstance(app, QApplication)
    closed = asyncio.get_running_loop().create_future()
    app.setQuitOnLastWindowClosed(False)  # the coroutine ends the loop, not Qt
    def on_last_closed() -> None:
        if not closed.done():
            closed.set_result(None)

    app.lastWindowClosed.connect(on_last_closed)
    window = MainWindow()
    if path is not None:
        window.open_file(path)
    window.show()
    # Ctrl+C in the terminal closes the window like its close button (the window's timers
    # give Python the turns it needs to notice the signal)
    previous = signal.signal(signal.SIGINT, lambda *_: window.close())
    try:
        await closed
    finally:
        signal.signal(signal.SIGINT, previous)
    await window.runner.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Open the app; `argv` may name one scenario file to load."""
    split = _split_theme(list(sys.argv[1:] if argv is None else argv))
    if split is None:
        print(_usage(), file=sys.stderr)
        return 2
    theme, args = split
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(_usage(), file=sys.stderr)
        return 2
    if args and not Path(args[0]).is_file():
        print(f"queuelab: {args[0]}: no such file", file=sys.stderr)
        return 2
    make_app(args, theme)
    return int(qasync.run(run_window(args[0] if args else None)))
