"""Light and dark: follow the system's color scheme, or the one asked for.

Qt 6.5+ reports the system's scheme (`QStyleHints.colorScheme`, `colorSchemeChanged`) and
most platform styles switch their palette with it. Where a style does not (some Linux
desktops, Xvfb, the offscreen platform) or the person forces a scheme the system does not
have, QueueLab uses Fusion with its own palette for that scheme, so what is asked for is
what is drawn. Widgets that draw with their own colors (the plots) restyle on the
resulting palette change.

    queuelab --theme dark          QUEUELAB_THEME=light queuelab
"""

from __future__ import annotations

import os

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from queuelab.gui.plot_style import is_dark

LIGHT, DARK, SYSTEM = "light", "dark", "system"
CHOICES = (SYSTEM, LIGHT, DARK)
ENV = "QUEUELAB_THEME"


def choice_from_env(default: str = SYSTEM) -> str:
    value = os.environ.get(ENV, "").strip().lower()
    return value if value in CHOICES else default


def dark_palette() -> QPalette:
    """A dark palette with enough contrast for text, links, selections and disabled items."""
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    colors = {
        role.Window: "#2b2b2e", role.WindowText: "#e8e8e8", role.Base: "#1e1e20",
        role.AlternateBase: "#303034", role.ToolTipBase: "#3a3a3e", role.ToolTipText: "#f0f0f0",
        role.PlaceholderText: "#8c8c90", role.Text: "#e8e8e8", role.Button: "#38383c",
        role.ButtonText: "#e8e8e8", role.BrightText: "#ff7070", role.Light: "#4a4a4f",
        role.Midlight: "#404045", role.Mid: "#5c5c62", role.Dark: "#1a1a1c",
        role.Shadow: "#0c0c0c", role.Highlight: "#3d7bd9", role.HighlightedText: "#ffffff",
        role.Link: "#73b3ff", role.LinkVisited: "#c29bff",
    }
    p = QPalette()
    for r, c in colors.items():
        p.setColor(r, QColor(c))
    for r in (role.WindowText, role.Text, role.ButtonText):
        p.setColor(group.Disabled, r, QColor("#7c7c80"))
    p.setColor(group.Disabled, role.Highlight, QColor("#505058"))
    return p


class ThemeController(QObject):
    """Applies the chosen scheme and, while it is "system", follows the system's changes."""

    def __init__(self, app: QApplication, choice: str = SYSTEM) -> None:
        super().__init__(app)
        self._app = app
        self._style = app.style().name()
        self._own = False  # whether QueueLab's palette replaced the platform's
        self.choice = SYSTEM
        app.styleHints().colorSchemeChanged.connect(lambda _: self._apply())
        self.set_choice(choice)

    def set_choice(self, choice: str) -> None:
        if choice not in CHOICES:
            raise ValueError(f"theme must be one of {', '.join(CHOICES)}, not {choice!r}")
        self.choice = choice
        hints = self._app.styleHints()
        if choice == SYSTEM:
            hints.unsetColorScheme()
        else:  # honoured by platforms that can (Windows, macOS, GNOME): their own look
            hints.setColorScheme(Qt.ColorScheme.Dark if choice == DARK else Qt.ColorScheme.Light)
        self._apply()

    @property
    def dark(self) -> bool:
        """Whether the window is drawn dark now."""
        return is_dark(self._app.palette())

    def _wanted_dark(self) -> bool | None:
        """Dark, light, or None: whatever the platform's palette is (scheme unknown)."""
        if self.choice != SYSTEM:
            return self.choice == DARK
        scheme = self._app.styleHints().colorScheme()
        if scheme == Qt.ColorScheme.Unknown:
            return None
        return scheme == Qt.ColorScheme.Dark

    def _apply(self) -> None:
        app = self._app
        if self._own:  # back to the platform's look before judging it
            self._own = False
            app.setStyle(self._style)
            app.setPalette(QPalette())
        wanted = self._wanted_dark()
        if wanted is None or is_dark(app.palette()) == wanted:
            return
        self._own = True
        app.setStyle("Fusion")
        app.setPalette(dark_palette() if wanted else app.style().standardPalette())
