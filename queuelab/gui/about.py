"""Help ▸ About QueueLab: the versions a bug report needs and where QueueLab keeps its data.

The text is selectable (a person pastes it into an issue) and the folders are links that
open in the file manager, because "where are my settings" is the usual next question.
"""

from __future__ import annotations

import platform
from html import escape
from pathlib import Path

import pyqtgraph
import PySide6
from PySide6.QtCore import Qt, QUrl, qVersion
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from queuelab import __version__, native
from queuelab.gui import files


def versions() -> list[tuple[str, str]]:
    return [
        ("QueueLab", __version__),
        ("Simulator", native.status()),
        ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
        ("pyqtgraph", pyqtgraph.__version__),
        ("System", f"{platform.system()} {platform.release()} ({platform.machine()})"),
    ]


def data_locations() -> list[tuple[str, Path]]:
    """Where QueueLab reads and writes on this machine."""
    import platformdirs

    data = Path(platformdirs.user_data_dir("QueueLab", appauthor=False))
    from queuelab.gui.backend_dialog import default_sqlite_file

    return [
        ("Data folder", data),
        ("Default SQLite queue (sqlite:///)", default_sqlite_file()),
        ("Settings file", Path(files.settings().fileName())),
    ]


def about_html() -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td>&nbsp;{escape(v)}</td></tr>"
                   for k, v in versions())
    places = "".join(
        f"<tr><td>{escape(k)}</td><td>&nbsp;<a href='{QUrl.fromLocalFile(str(p)).toString()}'>"
        f"{escape(str(p))}</a></td></tr>" for k, p in data_locations())
    return (f"<h3>QueueLab {escape(__version__)}</h3>"
            "<p>A desktop laboratory for task queues: simulate or run worker pools, "
            "autoscalers, retries and dead letters, and watch them in real time.</p>"
            f"<table>{rows}</table><p><b>Where QueueLab keeps its data</b></p>"
            f"<table>{places}</table>"
            "<p>Backend passwords are kept in memory only: never in these files.</p>")


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("about_dialog")
        self.setWindowTitle("About QueueLab")
        icon = QLabel()
        window_icon = self.windowIcon()
        if not window_icon.isNull():
            icon.setPixmap(window_icon.pixmap(64, 64))
        self.text = QLabel(about_html())
        self.text.setObjectName("about_text")
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.text.setOpenExternalLinks(False)
        self.text.linkActivated.connect(lambda url: QDesktopServices.openUrl(_folder(url)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.text, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(buttons)

    def plain_text(self) -> str:
        """What a person copies: the label's text without its markup."""
        from PySide6.QtGui import QTextDocument

        doc = QTextDocument()
        doc.setHtml(self.text.text())
        return doc.toPlainText()


def _folder(url: str) -> QUrl:
    """A file's folder (a file manager opens folders), the folder itself otherwise."""
    path = Path(QUrl(url).toLocalFile())
    return QUrl.fromLocalFile(str(path if path.is_dir() else path.parent))
