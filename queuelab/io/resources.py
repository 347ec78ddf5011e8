"""The files QueueLab ships (scenarios, icon, styles), found where the install put them.

The repository keeps them in its top-level `resources/` folder; the wheel and the
PyInstaller bundle carry that folder as `queuelab/resources` (pyproject.toml maps it), so
importlib.resources finds it beside the package. An editable install or a bare checkout
has no such folder inside the package, and falls back to the repository's own.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

#: the application id: the name of the .desktop entry and of the icon in the desktop's
#: theme (packaging/linux/). Qt's `setDesktopFileName(APP_ID)` lets Wayland match the window
#: to the entry; macOS uses it as the bundle identifier.
APP_ID = "io.github.queuelab.QueueLab"
#: the pixel sizes of the rendered icon (packaging/render_icons.py writes them)
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def resources_root() -> Traversable:
    """The shipped resources folder: inside the installed package, else the checkout's."""
    packaged = resources.files("queuelab") / "resources"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "resources"


def shipped_scenarios() -> list[Traversable]:
    """The example scenarios, sorted by file name."""
    folder = resources_root() / "scenarios"
    return sorted((f for f in folder.iterdir() if f.name.endswith(".toml")),
                  key=lambda f: f.name)


def shipped_scenario(name: str) -> Traversable:
    """One example scenario by file name, with or without `.toml`."""
    wanted = name if name.endswith(".toml") else f"{name}.toml"
    for f in shipped_scenarios():
        if f.name == wanted:
            return f
    known = ", ".join(f.name.removesuffix(".toml") for f in shipped_scenarios())
    raise FileNotFoundError(f"no shipped scenario {name!r} (shipped: {known})")


def icon_files() -> dict[int, Path]:
    """The application icon's PNGs by pixel size, smallest first.

    Give them all to one QIcon (`addFile(str(path), QSize(size, size))`) so Qt and the
    window manager pick a sharp rendering for each place rather than scaling one.
    """
    folder = resources_root() / "icons"
    return {size: _on_disk(folder / f"queuelab-{size}.png") for size in ICON_SIZES}


def icon_path(size: int | None = None) -> Path:
    """The icon as SVG (`size` None), else the smallest PNG at least `size` px wide.

    Asking for more than the largest rendering gives the largest.
    """
    if size is None:
        return _on_disk(resources_root() / "icons" / "queuelab.svg")
    if size <= 0:
        raise ValueError(f"icon size must be positive, not {size}")
    files = icon_files()
    return files[next((s for s in ICON_SIZES if s >= size), ICON_SIZES[-1])]


def _on_disk(item: Traversable) -> Path:
    """A shipped file as a file name: Qt opens files by name, not through Python's readers."""
    if isinstance(item, Path) and item.is_file():
        return item
    raise FileNotFoundError(
        f"{item} is not a file on disk (a zipped install cannot hand files to Qt; "
        "or packaging/render_icons.py has not been run)")
