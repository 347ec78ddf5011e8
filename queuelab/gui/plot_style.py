"""The plots' colors, taken from the window's palette so they read in light and dark alike.

pyqtgraph draws with its own fixed colors (white or black background, set once at import);
the window's palette is what follows the system. Backgrounds, axes, legend and markers are
therefore derived from the palette, and the series' hues kept but brightened on a dark
background, where the usual tab10 blues and browns sink into the black.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QColor, QPalette

MARKER_COLOR = "#7b1fa2"
MIN_DARK_LIGHTNESS = 0.64  # HSL lightness a line needs to stand out on a dark background


def is_dark(palette: QPalette) -> bool:
    """Whether the palette draws light text on a dark background."""
    return palette.color(QPalette.ColorRole.Window).lightnessF() < 0.5


def mix(a: QColor, b: QColor, t: float) -> QColor:
    """a blended t of the way towards b."""
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * t,
                           a.greenF() + (b.greenF() - a.greenF()) * t,
                           a.blueF() + (b.blueF() - a.blueF()) * t)


def muted(palette: QPalette) -> QColor:
    """Secondary text (descriptions, notes): between the text and the background."""
    return mix(palette.color(QPalette.ColorRole.WindowText),
               palette.color(QPalette.ColorRole.Window), 0.4)


def for_palette(color: QColor, palette: QPalette | None = None) -> QColor:
    """A status color (a table's green "busy") made readable on the app's background."""
    from PySide6.QtGui import QGuiApplication

    return readable(color.name(), is_dark(palette or QGuiApplication.palette()))


@dataclass(frozen=True)
class PlotColors:
    dark: bool
    background: QColor
    text: QColor  # tick labels and axis titles
    axis: QColor  # axis lines and ticks: softer than the text
    legend_fill: QColor
    legend_border: QColor
    marker: QColor
    marker_fill: QColor

    @classmethod
    def from_palette(cls, palette: QPalette) -> PlotColors:
        dark = is_dark(palette)
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.WindowText)
        fill = QColor(base)
        fill.setAlpha(252)  # nearly opaque: bright curves behind it must not show
        marker_fill = QColor(base)
        marker_fill.setAlpha(220)
        return cls(
            dark=dark,
            background=base,
            text=mix(text, base, 0.1),
            axis=mix(text, base, 0.35),
            legend_fill=fill,
            legend_border=mix(text, base, 0.7),
            marker=readable(MARKER_COLOR, dark),
            marker_fill=marker_fill,
        )

    def series(self, color: str) -> QColor:
        return readable(color, self.dark)


def readable(color: str, dark: bool) -> QColor:
    """The color as given on a light background; on a dark one, the same hue made light
    enough to read. A grey is mirrored (the dashed theory lines' #444 becomes #bbb): as far
    from the dark background as it was from the light one, so a theory line drawn over noisy
    measured curves stands out in both."""
    c = QColor(color)
    if not dark:
        return c
    if c.hslSaturationF() <= 0.0 and c.lightnessF() < MIN_DARK_LIGHTNESS:
        return QColor.fromHslF(0.0, 0.0, max(1.0 - c.lightnessF(), MIN_DARK_LIGHTNESS),
                               c.alphaF())
    if c.lightnessF() >= MIN_DARK_LIGHTNESS:
        return c
    return QColor.fromHslF(max(c.hslHueF(), 0.0), c.hslSaturationF(), MIN_DARK_LIGHTNESS,
                           c.alphaF())
