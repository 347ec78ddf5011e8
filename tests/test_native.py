"""The compiled simulator (setup.py, queuelab.native): the same results as its source, and
never stale. The rest of the suite runs whichever is installed - compiled, in CI."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from queuelab import native
from queuelab.io.scenario_files import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "resources" / "scenarios").glob("*.toml"))
#: what the shipped scenarios leave out: the breaker, inline retries, timeouts, the target
#: autoscaler with cold starts, the semaphore pool with prefetch, priorities, spikes
EXTRA = {
    "breaker-inline-target": """
        format = 1
        [arrivals]
        process = "sine"
        rate = 6.0
        amplitude = 4.0
        period = 300.0
        [service]
        distribution = "lognormal"
        mean = 0.5
        sigma = 1.2
        [failures]
        probability = 0.2
        poison_fraction = 0.02
        [pool]
        strategy = "dynamic"
        autoscaler = "target"
        min_workers = 1
        max_workers = 12
        target_per_worker = 5.0
        stabilization_down = 60.0
        startup_delay = 2.0
        [retry]
        max_attempts = 4
        base_delay = 0.5
        jitter = "equal"
        mode = "inline"
        [timeouts]
        task = 2.0
        [breaker]
        enabled = true
        failure_threshold = 8
        open_for = 5.0
        half_open_probes = 2
    """,
    "semaphore-priority-spike": """
        format = 1
        [arrivals]
        process = "spike"
        rate = 3.0
        at = 200.0
        extra = 30.0
        length = 60.0
        [service]
        distribution = "pareto"
        mean = 0.8
        shape = 2.5
        [failures]
        probability = 0.05
        [priorities]
        weights = [6.0, 3.0, 1.0]
        [queue]
        discipline = "priority"
        [pool]
        strategy = "semaphore"
        concurrency = 6
        prefetch = 4
    """,
}
PURE = {**os.environ, "QUEUELAB_PURE_PYTHON": "1"}


def test_ci_runs_the_compiled_simulator() -> None:
    """.ci/run sets QUEUELAB_REQUIRE_COMPILED: a build that quietly fell back to the source
    (pip -q hides setup.py's warning) must not pass as the fast one."""
    if not os.environ.get("QUEUELAB_REQUIRE_COMPILED"):
        pytest.skip(f"QUEUELAB_REQUIRE_COMPILED is not set (the simulator: {native.status()})")
    assert native.compiled(), native.status()
    import queuelab.sim.engine

    assert not queuelab.sim.engine.__file__.endswith(".py")


def _duration(scenario: Path) -> float:
    """900 s of the scenario, or up to its last timeline change and a minute past it (a run
    shorter than its timeline is refused)."""
    timeline = load_scenario(scenario).timeline
    return max([900.0, *(entry.at + 60.0 for entry in timeline)])


def _run(scenario: Path, out: Path, env: dict[str, str]) -> tuple[bytes, dict[str, object]]:
    subprocess.run(
        [sys.executable, "-m", "queuelab.cli", "run", str(scenario), "--duration",
         f"{_duration(scenario):g}", "--out", str(out)],
        env=env, check=True, capture_output=True, cwd=ROOT,
    )
    summary = json.loads((out / "summary.json").read_text())
    summary.pop("wall_seconds")
    return (out / "frames.csv").read_bytes(), summary


@pytest.mark.parametrize("name", [s.stem for s in SHIPPED] + list(EXTRA))
def test_compiled_and_source_write_the_same_bytes(name: str, tmp_path: Path) -> None:
    if not native.compiled():
        pytest.skip(f"the simulator here is {native.status()}")
    if name in EXTRA:
        scenario = tmp_path / f"{name}.toml"
        scenario.write_text(textwrap.dedent(EXTRA[name]))
    else:
        scenario = ROOT / "resources" / "scenarios" / f"{name}.toml"
    compiled = _run(scenario, tmp_path / "compiled", dict(os.environ))
    source = _run(scenario, tmp_path / "source", PURE)
    assert compiled[0] == source[0]
    assert compiled[1] == source[1]


def test_the_source_runs_when_asked(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c",
         "import queuelab.native as n, queuelab.sim.engine as e; print(n.status()); "
         "print(e.__file__)"],
        env=PURE, check=True, capture_output=True, text=True,
    ).stdout.splitlines()
    assert out[1].endswith("engine.py")
    assert out[0].startswith("interpreted")


def _copy_of_the_build(tmp_path: Path) -> Path:
    """The installed package with its extensions and build record, somewhere else."""
    shared = importlib.util.find_spec("queuelab_native__mypyc")
    assert shared is not None and shared.origin is not None
    package = Path(native.__file__).parent
    shutil.copytree(package, tmp_path / "queuelab",
                    ignore=shutil.ignore_patterns("__pycache__", "resources"))
    shutil.copy(shared.origin, tmp_path)
    return tmp_path


def _status_in(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "default", "-c",
         "import queuelab.native as n, queuelab.sim.engine as e, queuelab.core.stats as s; "
         "print(n.status()); print(e.__file__); print(s.__file__)"],
        env={**os.environ, "PYTHONPATH": str(root)}, cwd=root, check=True,
        capture_output=True, text=True,
    )


def test_an_edited_source_runs_instead_of_stale_compiled_code(tmp_path: Path) -> None:
    if not native.compiled():
        pytest.skip(f"the simulator here is {native.status()}")
    root = _copy_of_the_build(tmp_path)
    fresh = _status_in(root)
    assert fresh.stdout.splitlines()[0] == "compiled", fresh.stderr
    assert fresh.stdout.splitlines()[1].startswith(str(root))  # the copy, not the checkout

    engine = root / "queuelab" / "sim" / "engine.py"
    engine.write_text(engine.read_text() + "\n# an edit\n")
    stale = _status_in(root)
    status, engine_file, stats_file = stale.stdout.splitlines()
    assert status == "interpreted: source changed since it was compiled"
    # all of them from source, not only the edited one: their classes must not mix
    assert engine_file.endswith("engine.py") and stats_file.endswith("stats.py")
    assert "queuelab.sim.engine changed since the simulator was compiled" in stale.stderr

    (root / "queuelab" / native.STAMP).unlink()  # no record of what was compiled: same
    assert _status_in(root).stdout.startswith("interpreted: source changed")


def test_compiled_files_an_older_build_left_are_found(tmp_path: Path) -> None:
    """A compiled file beside the .py of a module this build does not compile (an earlier
    build compiled it) is found; those of the compiled modules, and files with no .py
    beside them (the shared library, a frozen app's), are not."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    package = tmp_path / "queuelab"
    for name in ("core/stats", "core/clients", "sim/engine", "core/frozen_only"):
        path = package / f"{name}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        if name != "core/frozen_only":
            path.write_text("")
        path.with_name(path.stem + suffix).write_bytes(b"")
    (tmp_path / f"queuelab_native__mypyc{suffix}").write_bytes(b"")
    assert native.leftovers(package) == ["queuelab.core.clients"]
    assert native.leftovers(Path(native.__file__).parent) == []  # this install: none


def test_an_older_builds_compiled_file_is_not_imported(tmp_path: Path) -> None:
    if not native.compiled():
        pytest.skip(f"the simulator here is {native.status()}")
    root = _copy_of_the_build(tmp_path)
    stats = next(p for p in (root / "queuelab" / "core").iterdir()
                 if p.name.startswith("stats.") and p.suffix != ".py")
    suffix = stats.name[len("stats"):]
    shutil.copy(stats, root / "queuelab" / "core" / f"timeline{suffix}")  # a stale leftover
    done = subprocess.run(
        [sys.executable, "-W", "default", "-c",
         "import queuelab.native as n, queuelab.core.timeline as t; "
         "print(n.status()); print(t.__file__)"],
        env={**os.environ, "PYTHONPATH": str(root)}, cwd=root,
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    status, timeline = done.stdout.splitlines()
    assert status == "compiled" and timeline.endswith("timeline.py")
    assert "compiled files of queuelab.core.timeline are left from an earlier build" in (
        done.stderr)
