"""Which modules run compiled (mypyc), and the guard that never lets stale compiled code run.

setup.py compiles the simulator's hot path from the very files listed here. Python imports
a compiled module in preference to its .py, so after an edit or a checkout the extension
would silently keep running the old code. At the package's first import, `guard` compares
each source with the digest setup.py recorded when it compiled; if any differs (or the
record is missing), all of them are imported from source instead - compiled and source
versions of these modules must not mix, their classes are not interchangeable - and one
warning says how to rebuild. QUEUELAB_PURE_PYTHON=1 asks for the source regardless.

Standard library only: setup.py imports this file on its own, before queuelab exists.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

#: Compiled together, in one shared library: the event loop and what it touches per event.
COMPILED = (
    "queuelab.core.stats",
    "queuelab.core.metrics",
    "queuelab.core.policies.backoff",
    "queuelab.core.outcome",
    "queuelab.sim.entities",
    "queuelab.sim.engine",
)
STAMP = "native_build.json"  # written by setup.py beside this file: the compiled sources' digests
PACKAGE = Path(__file__).resolve().parent

_status = "interpreted: not compiled"


class StaleBuildWarning(UserWarning):
    """The compiled simulator no longer matches its source; the source runs instead."""


def source_path(root: Path, module: str) -> Path:
    """Where `module`'s .py lives under `root`, the folder holding the queuelab package."""
    return root.joinpath(*module.split(".")).with_suffix(".py")


def compiled() -> bool:
    """Whether the simulator's hot path is running compiled."""
    return _status == "compiled"


def status() -> str:
    """One line for `--version`, the About box and benchmarks: how the simulator runs."""
    return _status


def _extension(module: str) -> Path | None:
    base = source_path(PACKAGE.parent, module)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = base.with_suffix(suffix)
        if path.is_file():
            return path
    return None


def source_digest(source: Path) -> str:
    """What setup.py records of each compiled source, and what the guard compares."""
    return hashlib.sha256(source.read_bytes()).hexdigest()


def _stale(digests: dict[str, str]) -> list[str]:
    """The compiled modules whose source differs from what was compiled (a missing source,
    as in a frozen app that ships only the extension, cannot be checked and is trusted)."""
    changed = []
    for module in COMPILED:
        source = source_path(PACKAGE.parent, module)
        if source.is_file() and source_digest(source) != digests.get(module):
            changed.append(module)
    return changed


def leftovers(package: Path = PACKAGE) -> list[str]:
    """Modules with a compiled extension beside their .py that this build does not compile:
    left by an earlier build that did (a checkout of an older commit after a newer build).
    Python would import the extension, old code whose classes the rest no longer has."""
    found = set()
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for ext in package.rglob(f"*{suffix}"):
            source = ext.with_name(ext.name[: -len(suffix)] + ".py")
            if source.is_file():
                module = ".".join(source.relative_to(package.parent).with_suffix("").parts)
                if module not in COMPILED:
                    found.add(module)
    return sorted(found)


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Finds these modules' .py files ahead of their extensions."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        source = source_path(PACKAGE.parent, fullname)
        if not source.is_file():
            return None
        return importlib.util.spec_from_file_location(fullname, source)


def guard() -> None:
    """Decide, once and before any of them is imported, whether the compiled modules run."""
    global _status
    old = leftovers()
    if old:  # always from source; the modules this build compiles are judged on their own
        sys.meta_path.insert(0, _SourceFirst(old))
        warnings.warn(
            f"queuelab: compiled files of {', '.join(old)} are left from an earlier build "
            "that compiled them; their source runs instead. Delete those files or reinstall "
            "(pip install -e . in a checkout).", StaleBuildWarning, stacklevel=3)
    if not any(_extension(module) for module in COMPILED):
        return  # nothing compiled: the source runs anyway
    if os.environ.get("QUEUELAB_PURE_PYTHON"):
        reason, why = "QUEUELAB_PURE_PYTHON is set", ""
    else:
        try:
            digests = json.loads((PACKAGE / STAMP).read_text())["sources"]
        except (OSError, ValueError, KeyError, TypeError):
            digests = {}
        changed = _stale(digests)
        if not changed:
            _status = "compiled"
            return
        reason = "source changed since it was compiled"
        why = (
            f"queuelab: {', '.join(changed)} changed since the simulator was compiled; "
            "running the source (slower). Reinstall to compile it again "
            "(pip install -e . in a checkout)."
        )
    _status = f"interpreted: {reason}"
    sys.meta_path.insert(0, _SourceFirst(COMPILED))
    if why:
        warnings.warn(why, StaleBuildWarning, stacklevel=3)
