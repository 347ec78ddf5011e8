"""The wheel carries everything the program reads, and finds it without the repository.

pyproject.toml lists the packages by hand (the top-level resources/ folder is mapped to
`queuelab.resources`, which `find` cannot discover), so a folder added without listing it
would silently vanish from the wheel: the first test names it. The others build a real
wheel from a copy of the tree, as `pip install .` would, and run it from an unzipped copy
with the source tree out of reach.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from queuelab import __version__, native
from queuelab.io.resources import APP_ID, ICON_SIZES, icon_files, icon_path, resources_root

ROOT = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "out", "__pycache__", "*.egg-info", ".*_cache",
    ".hypothesis", "*.pyc", "*.so", "*.pyd", "native_build.json",  # a build's own outputs
)


def _folders(top: Path) -> list[Path]:
    return [top, *(p for p in sorted(top.rglob("*"))
                   if p.is_dir() and "__pycache__" not in p.parts)]


def test_every_source_folder_is_a_listed_package() -> None:
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
                 ["packages"])
    code = {".".join(p.relative_to(ROOT).parts) for p in _folders(ROOT / "queuelab")}
    data = {".".join(("queuelab", *p.relative_to(ROOT).parts))
            for p in _folders(ROOT / "resources")}
    assert sorted((code | data) - listed) == [], "add these to [tool.setuptools] packages"
    assert sorted(listed - code - data) == [], "these listed packages have no folder"


def test_icon_files_are_the_sizes_their_names_say() -> None:
    files = icon_files()
    assert list(files) == list(ICON_SIZES)
    for size, path in files.items():
        header = path.read_bytes()[:24]
        assert header[:8] == b"\x89PNG\r\n\x1a\n", path
        assert struct.unpack(">II", header[16:24]) == (size, size), path


def test_icon_path_picks_the_smallest_sharp_enough_rendering() -> None:
    assert icon_path().name == "queuelab.svg"
    assert icon_path(16).name == "queuelab-16.png"
    assert icon_path(20).name == "queuelab-24.png"
    assert icon_path(4096).name == "queuelab-512.png"
    assert icon_path(1).is_relative_to(Path(str(resources_root())))
    with pytest.raises(ValueError, match="positive"):
        icon_path(0)


def test_desktop_entry_and_metainfo_name_the_app_and_its_version() -> None:
    linux = ROOT / "packaging" / "linux"
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys keep their case
    entry.read(linux / f"{APP_ID}.desktop", encoding="utf-8")
    assert entry["Desktop Entry"]["Icon"] == APP_ID
    assert entry["Desktop Entry"]["Exec"] == "queuelab %f"
    info = ElementTree.parse(linux / f"{APP_ID}.metainfo.xml").getroot()
    assert info.findtext("id") == APP_ID
    assert info.findtext("launchable") == f"{APP_ID}.desktop"
    assert info.find("releases/release").get("version") == __version__, "add a <release>"
    spec = (ROOT / "packaging" / "queuelab.spec").read_text(encoding="utf-8")
    assert f'bundle_identifier="{APP_ID}"' in spec


@pytest.mark.parametrize("tool", [
    ["desktop-file-validate", f"packaging/linux/{APP_ID}.desktop"],
    ["appstreamcli", "validate", "--no-net", f"packaging/linux/{APP_ID}.metainfo.xml"],
], ids=["desktop-file-validate", "appstreamcli"])
def test_desktop_files_validate(tool: list[str]) -> None:
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed")
    done = subprocess.run(tool, cwd=ROOT, capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(the source copy it was built from, the wheel), built once for the module."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    shutil.copytree(ROOT, src, ignore=NOT_SOURCE)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "-q", "-w", str(base / "out")],
        cwd=src, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    (built,) = (base / "out").glob("queuelab-*.whl")
    return src, built


@pytest.mark.timeout(300)
def test_wheel_carries_every_file_the_program_reads(wheel: tuple[Path, Path]) -> None:
    src, built = wheel
    names = set(zipfile.ZipFile(built).namelist())
    expected = {p.relative_to(src).as_posix() for p in (src / "queuelab").rglob("*")
                if p.is_file()}
    expected |= {"queuelab/" + p.relative_to(src).as_posix()
                 for p in (src / "resources").rglob("*") if p.is_file()}
    assert sorted(expected - names) == []
    scenarios = {n for n in names if n.startswith("queuelab/resources/scenarios/")}
    assert {n.rsplit("/", 1)[1] for n in scenarios} >= {"steady-mmc.toml", "overload.toml"}
    icons = {f"queuelab/resources/icons/queuelab-{s}.png" for s in ICON_SIZES}
    assert icons | {"queuelab/resources/icons/queuelab.svg"} <= names
    if native.compiled():  # this machine compiles, so the wheel carries the compiled simulator
        compiled = {n.split("/")[-1].split(".")[0] for n in names if n.endswith((".so", ".pyd"))}
        assert compiled == {m.rsplit(".", 1)[1] for m in native.COMPILED} | {
            "queuelab_native__mypyc"}
        assert f"queuelab/{native.STAMP}" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "queuelab = queuelab.cli:main" in zipfile.ZipFile(built).read(entry_points).decode()


@pytest.mark.timeout(300)
def test_unzipped_wheel_finds_its_resources_and_runs(wheel: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    _, built = wheel
    site = tmp_path / "site"
    zipfile.ZipFile(built).extractall(site)
    # -S: no site-packages, so neither the editable install nor the checkout can answer;
    # the environment's packages come after the wheel, for the dependencies only
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), sysconfig.get_path("purelib"),
                                                        sysconfig.get_path("platlib")])}
    probe = """if True:
        import json, queuelab
        from queuelab import native
        from queuelab.io import resources as r
        print(json.dumps({"package": queuelab.__file__, "root": str(r.resources_root()),
                          "simulator": native.status(),
                          "scenarios": [f.name for f in r.shipped_scenarios()],
                          "steady": r.shipped_scenario("steady-mmc").read_text(),
                          "svg": str(r.icon_path()), "icon16": str(r.icon_path(16)),
                          "icons": {s: str(p) for s, p in r.icon_files().items()},
                          "sql": len(__import__("queuelab.backends.sql.sqlfiles",
                                                fromlist=["queries"]).queries("sqlite")),
                          "lua": [s.name for s in __import__(
                              "queuelab.backends.redis_queue.scripts", fromlist=["ALL"]).ALL]}))
    """
    found = json.loads(subprocess.run(
        [sys.executable, "-S", "-c", probe], cwd=tmp_path, env=env, capture_output=True,
        text=True, timeout=60, check=True).stdout)
    inside = str(site / "queuelab")
    assert found["package"].startswith(inside)
    assert found["root"] == str(site / "queuelab" / "resources")
    assert "steady-mmc.toml" in found["scenarios"]
    assert 'name = "Steady M/M/c"' in found["steady"]
    assert all(p.startswith(inside) for p in [found["svg"], found["icon16"],
                                              *found["icons"].values()])
    assert [int(s) for s in found["icons"]] == list(ICON_SIZES)
    assert found["sql"] > 10 and {"claim", "ack", "dead_page"} <= set(found["lua"])
    # compiled in the wheel when compiled here (the same QUEUELAB_PURE_PYTHON reached the build)
    assert (found["simulator"] == "compiled") == native.compiled(), found["simulator"]

    run = subprocess.run(
        [sys.executable, "-S", "-m", "queuelab.cli", "run", "--duration", "120", "--quiet",
         "--out", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert len((tmp_path / "out" / "frames.csv").read_text().splitlines()) > 100
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["end"] == 120 and summary["completed"] > 0
