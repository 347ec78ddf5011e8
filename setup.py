"""The build's one step beyond pyproject.toml: the simulator's hot path, compiled by mypyc.

The discrete-event loop and the structures it touches per event (`queuelab.native.COMPILED`)
are ordinary type-annotated Python. mypyc, the compiler mypy and black are built with,
turns those same files into a C extension: typed locals unboxed, attributes of native
classes read from a struct instead of a dict, calls between compiled functions direct.
The source stays the reference and runs unchanged when the extension is absent:

* QUEUELAB_PURE_PYTHON=1 at install time builds nothing (a developer stepping through the
  engine in a debugger; the same variable at run time imports the source too);
* without a C compiler, or if the build fails, the install still succeeds, with a warning;
* after the source changes (an edit, a checkout), `queuelab.native` sees that the digest
  recorded here no longer matches and imports the source instead of stale compiled code.

mypyc runs only for the commands that build (it type-checks and writes C: a few seconds),
not for the metadata queries pip makes first.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "queuelab"))
from native import COMPILED, STAMP, source_digest, source_path  # noqa: E402  (alone)

sys.path.pop(0)

BUILD_COMMANDS = {"build", "build_ext", "bdist_wheel", "editable_wheel", "install", "develop"}
GROUP = "queuelab_native"  # the shared library's name: queuelab_native__mypyc


def _warn(message: str) -> None:
    print(f"\nqueuelab: {message}\n", file=sys.stderr)


def native_extensions() -> list:
    if os.environ.get("QUEUELAB_PURE_PYTHON"):
        _warn("QUEUELAB_PURE_PYTHON is set: the simulator stays interpreted")
        return []
    if not BUILD_COMMANDS & set(sys.argv[1:]):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:
        _warn("mypyc is not installed: the simulator stays interpreted (slower)")
        return []
    sources = [str(source_path(ROOT, module).relative_to(ROOT)) for module in COMPILED]
    try:
        # numpy ships its own types, but a build environment need not have numpy installed
        return mypycify(["--ignore-missing-imports", *sources], group_name=GROUP)
    except (Exception, SystemExit) as exc:  # mypy reports type errors by exiting
        _warn(f"mypyc could not compile the simulator ({exc!r}): it stays interpreted")
        return []


class BuildNative(build_ext):
    """build_ext that never fails the install, and stamps what it compiled."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            _warn(f"compiling the simulator failed ({exc}): it stays interpreted (slower)")
            for built in self.get_outputs():  # every extension's file, built or half-built
                Path(built).unlink(missing_ok=True)
            return
        if not self.extensions:
            return
        stamp = Path(self.get_ext_fullpath("queuelab.native")).with_name(STAMP)
        digests = {module: source_digest(source_path(ROOT, module)) for module in COMPILED}
        stamp.write_text(json.dumps({"compiler": "mypyc", "sources": digests}, indent=1) + "\n")


setup(ext_modules=native_extensions(), cmdclass={"build_ext": BuildNative})
