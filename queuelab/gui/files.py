"""Where the window's files come from and go: shipped scenarios, recent files, exports.

Settings live in QSettings under the organization "QueueLab"; `settings()` is the one place
that names them, so tests can point every instance at a temporary folder with
`QSettings.setPath`.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings

from queuelab.core.metrics import FRAME_COLUMNS
from queuelab.io import resources
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
    """The folder of the example scenarios (None when this install has none)."""
    folder = resources.resources_root() / "scenarios"
    return Path(str(folder)) if folder.is_dir() else None


def shipped_scenarios() -> list[Path]:
    """The shipped scenario files, sorted by name."""
    try:
        return [Path(str(f)) for f in resources.shipped_scenarios()]
    except OSError:  # no scenarios folder in this install
        return []


def scenario_title(path: Path) -> str:
    """`bursty_autoscaling.toml` -> `Bursty autoscaling`."""
    return path.stem.replace("_", " ").replace("-", " ").capitalize()


def recent_files() -> list[str]:
    value = settings().value("files/recent", [])
    if isinstance(value, str):  # QSettings returns a lone string for a one-item list
        value = [value]
    if not isinstance(value, list):
        return []
    return [str(v) for v in value if Path(str(v)).is_file()]


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


def handler_consent_key(path: Path | None) -> str | None:
    """The settings key remembering which handler module a scenario file may import."""
    if path is None:
        return None  # an unsaved scenario: asked again each time
    digest = hashlib.sha256(str(path.resolve()).encode("utf-8")).hexdigest()[:32]
    return f"handler_consent/{digest}"


def handler_consented(path: Path | None, module: str) -> bool:
    """Whether the user allowed this scenario file's live runs to import `module`."""
    key = handler_consent_key(path)
    return key is not None and settings().value(key) == module


def remember_handler_consent(path: Path | None, module: str) -> None:
    key = handler_consent_key(path)
    if key is not None:
        settings().setValue(key, module)
