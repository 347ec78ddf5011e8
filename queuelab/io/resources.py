"""The files QueueLab ships (scenarios, icon, styles), found where the install put them.

In a wheel they are package data under `queuelab/resources`; in a source checkout they
are the repository's `resources/` folder. importlib.resources covers both.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path


def resources_root() -> Traversable:
    """The shipped resources folder."""
    try:
        root = resources.files("queuelab.resources")
        if root.is_dir():
            return root
    except ModuleNotFoundError:
        pass
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
