"""The layers of docs/architecture.md as a checked contract, not a hope."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold() -> None:
    """import-linter: core is pure, only gui touches Qt, sim never reaches into backends."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "broken" not in result.stdout.lower().replace("0 broken", ""), result.stdout


def test_headless_path_does_not_load_qt() -> None:
    """`queuelab run` and everything in core/ and sim/ start without importing Qt."""
    code = (
        "import sys, queuelab.cli, queuelab.sim, queuelab.core.scenario\n"
        "import queuelab.core.validation, queuelab.core.scenario_toml\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'pyqtgraph', 'qasync')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=60)
