"""Where the window's files come from and go: shipped scenarios, recent files, exports.

Settings live in QSettings under the organization "QueueLab"; `settings()` is the one place
that names them, so tests can point every instance at a temporary folder with
`QSettings.setPath`.
"""

from __future__ import annotations

import csv
import importlib.resources
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings

from queuelab.core.metrics import FRAME_COLUMNS
from queuelab.io.frames_csv import format_cell

if TYPE_CHECKING:
    from queuelab.gui.history import FrameHistory

ORGANIZATION = "QueueLab"
APPLICATION = "QueueLab"
MAX_RECENT = 8


def settings() -> QSettings:
    """The app's settings (an INI file in the user's config folder)."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope,
                     ORGANIZATION, APPLICATION)


def shipped_scenarios_dir() -> Path | None:
    """The example scenarios: inside the installed package, else the source tree's resources/."""
    try:
        packaged = importlib.resources.files("queuelab") / "resources" / "scenarios"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, NotADirectoryError):
        pass
    source = Path(__file__).resolve().parents[2] / "resources" / "scenarios"
    return source if source.is_dir() else None


def shipped_scenarios() -> list[Path]:
    """The shipped scenario files, sorted by name."""
    folder = shipped_scenarios_dir()
    return sorted(folder.glob("*.toml")) if folder else []


def scenario_title(path: Path) -> str:
    """`bursty_autoscaling.toml` -> `Bursty autoscaling`."""
    return path.stem.replace("_", " ").replace("-", " ").capitalize()


def recent_files() -> list[str]:
    value = settings().value("files/recent", [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-item list
        value = [value]
    return [str(v) for v in value or [] if Path(str(v)).is_file()]


def add_recent_file(path: str | Path) -> list[str]:
    """Put `path` first in the recent list (no duplicates, at most MAX_RECENT)."""
    p = str(Path(path).resolve())
    items = [p] + [r for r in recent_files() if r != p]
    items = items[:MAX_RECENT]
    settings().setValue("files/recent", items)
    return items


def export_frames_csv(path: str | Path, history: FrameHistory) -> int:
    """Write the frames held as `queuelab run` writes frames.csv; returns the row count."""
    p = Path(path)
    n = 0
    with p.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(FRAME_COLUMNS)
        for row in history.rows():
            writer.writerow([format_cell(v) for v in row])
            n += 1
    return n
