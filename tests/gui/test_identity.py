"""The app's identity and first-run experience: names, icon, About, Help, the welcome panel,
and light and dark palettes that keep the plots readable."""

from __future__ import annotations

import platform
from collections.abc import Iterator
from pathlib import Path

import PySide6
import pytest
from PySide6.QtCore import QObject, QRect, Qt, QUrl, Slot, qVersion
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import QApplication

from queuelab import __version__
from queuelab.gui import files, help_links, welcome
from queuelab.gui.about import AboutDialog
from queuelab.gui.app import _split_theme, main, make_app
from queuelab.gui.main_window import MainWindow
from queuelab.gui.plot_style import is_dark, readable
from queuelab.gui.theme import DARK, LIGHT, SYSTEM, ThemeController
from queuelab.io.resources import APP_ID

pytestmark = pytest.mark.asyncio


class _Opened(QObject):
    """Stands in for the desktop's file viewer: records the URLs Help asks it to open."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[QUrl] = []

    @Slot(QUrl)
    def open(self, url: QUrl) -> None:
        self.urls.append(url)


@pytest.fixture
def opened() -> Iterator[_Opened]:
    catcher = _Opened()
    QDesktopServices.setUrlHandler("file", catcher, "open")
    yield catcher
    QDesktopServices.unsetUrlHandler("file")


def _contrast(a: QColor, b: QColor) -> float:
    """WCAG contrast ratio of two colors (1 to 21)."""
    def lum(c: QColor) -> float:
        def ch(v: float) -> float:
            return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
        return 0.2126 * ch(c.redF()) + 0.7152 * ch(c.greenF()) + 0.0722 * ch(c.blueF())
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def test_the_app_names_itself_and_takes_a_theme_option(qapp) -> None:
    app = make_app([])
    assert (app.applicationName(), app.organizationName()) == ("QueueLab", "QueueLab")
    assert app.applicationVersion() == __version__ and app.desktopFileName() == APP_ID
    assert not app.windowIcon().isNull()
    assert app.findChild(ThemeController) is not None
    assert _split_theme(["--theme", "dark", "x.toml"]) == ("dark", ["x.toml"])
    assert _split_theme(["--theme=light"]) == ("light", [])
    assert _split_theme(["--theme", "purple"]) is None
    assert main(["--theme", "purple"]) == 2


async def test_about_shows_versions_and_where_the_data_lives(window: MainWindow) -> None:
    box = window._about()
    assert isinstance(box, AboutDialog) and box.isVisible()
    text = box.plain_text()
    for needed in (f"QueueLab {__version__}", qVersion(), PySide6.__version__,
                   platform.python_version(), files.settings().fileName(), "QueueLab.ini"):
        assert needed in text, needed
    import platformdirs

    assert platformdirs.user_data_dir("QueueLab", appauthor=False) in text
    flags = box.text.textInteractionFlags()
    assert flags & Qt.TextInteractionFlag.TextSelectableByMouse
    box.close()


async def test_help_links_open_the_readme_sections(window: MainWindow, opened: _Opened) -> None:
    readme = help_links.readme_text()
    assert readme is not None
    titles = [a.text().removeprefix("README: ") for a in window.readme_actions]
    assert titles == [s.title for s in help_links.sections(readme)] and titles
    window.readme_actions[-1].trigger()
    [url] = opened.urls
    path = Path(url.toLocalFile())
    assert path.name == "README.md" and path.is_file()
    anchor = url.fragment()
    assert any(help_links.slug(line[3:]) == anchor
               for line in path.read_text(encoding="utf-8").splitlines()
               if line.startswith("## "))
    assert help_links.slug("Install as a desktop app") == "install-as-a-desktop-app"
    assert help_links.sections("## A\n```\n## not a heading\n```\n## B (c)") == [
        help_links.Section("A", "a"), help_links.Section("B (c)", "b-c")]


async def test_welcome_panel_on_first_start_until_dismissed_for_good(qtbot) -> None:
    first = MainWindow()
    qtbot.addWidget(first)
    first.resize(1400, 900)
    first.show()
    qtbot.waitUntil(lambda: first.welcome.isVisible())
    qtbot.wait(20)  # the room made for it below the plots
    # it sits beside the plots, never over them
    top_left = first.welcome.mapTo(first, first.welcome.rect().topLeft())
    panel = QRect(top_left, first.welcome.size())
    plots = QRect(first.plots.mapTo(first, first.plots.rect().topLeft()), first.plots.size())
    assert not panel.intersects(plots) and plots.height() > 400
    assert first.welcome.height() >= first.welcome.heightForWidth(first.welcome.width()) - 2
    # its links go to the knobs they name
    first.welcome.knobs_text.linkActivated.emit("knob:retry.max_attempts")
    assert first.form.sections["retry"].button.isChecked()
    # closed without the tick: back at the next start
    first.welcome.close_button.click()
    assert not first.welcome.isVisible() and welcome.wanted()
    first.close()

    second = MainWindow()
    qtbot.addWidget(second)
    assert not second.welcome.isHidden()
    second.welcome.dont_show.setChecked(True)
    second.welcome.close_button.click()
    assert not welcome.wanted()
    second.close()

    third = MainWindow()
    qtbot.addWidget(third)
    assert third.welcome.isHidden()
    help_item = next(a for a in third.menuBar().actions() if a.text() == "&Help")
    [what] = [a for a in help_item.menu().actions() if "looking at" in a.text()]
    what.trigger()
    assert not third.welcome.isHidden() and third.welcome.dont_show.isChecked()


async def test_a_grey_theory_line_is_mirrored_on_a_dark_background() -> None:
    """The dashed theory lines (#444 on white) are drawn over noisy measured curves: on a
    dark background they are as light as they were dark (#bbb), not merely lifted to the
    least lightness a hue needs; a colored line keeps its hue."""
    assert readable("#444444", True).name() == "#bbbbbb"
    assert readable("#444444", False).name() == "#444444"
    purple = readable("#9467bd", True)
    assert purple.hslHue() == QColor("#9467bd").hslHue() and purple.name() != "#bbbbbb"


async def test_dark_and_light_palettes_keep_the_plots_readable(window: MainWindow) -> None:
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    theme = ThemeController(app, SYSTEM)
    plots = window.plots
    try:
        for choice in (DARK, LIGHT):
            theme.set_choice(choice)
            QApplication.processEvents()
            dark = choice == DARK
            assert is_dark(app.palette()) == dark and theme.dark == dark
            c = plots.colors
            assert c is not None and c.dark == dark
            assert plots.canvas.backgroundBrush().color() == c.background
            for p in plots.plots.values():
                axis = p.plot.getAxis("left")
                assert _contrast(axis.textPen().color(), c.background) >= 7.0
                assert p.legend.names and p.legend.text_color == c.text.name()
                for line in p.curves:
                    color = line.item.opts["pen"].color()
                    assert _contrast(color, c.background) >= 2.5, (line.series.name, choice)
            # a new change marker takes the palette's colors as well
            assert _contrast(c.marker, c.background) >= 3.0
    finally:
        theme.set_choice(SYSTEM)
        theme.setParent(None)
        QApplication.processEvents()
    assert not is_dark(app.palette())
