"""A handler cannot take a live run down (runtime.handlers.error_of, runtime.worker.execute):
SystemExit, KeyboardInterrupt, its own CancelledError, an unprintable exception, a 50 MB
message and a call that never returns each become one failed attempt with a bounded
message; the run goes on, its books balance, its pool keeps its size, and the process
exits when the run is over."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.limits import MAX_ERROR_CHARS
from queuelab.core.task import DeadLetterQuery
from queuelab.runtime.handlers import error_of
from tests.runtime import handlers_for_tests as H
from tests.runtime.helpers import live, run_to_end, scenario

MODULE = "tests.runtime.handlers_for_tests"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.asyncio
@pytest.mark.parametrize(("function", "kind", "says"), [
    ("exits", "SystemExit", "3"),
    ("exits_async", "SystemExit", "bye"),
    ("interrupts", "KeyboardInterrupt", "KeyboardInterrupt()"),
    ("interrupts_async", "KeyboardInterrupt", "KeyboardInterrupt()"),
    ("cancels_itself", "CancelledError", "CancelledError()"),
    ("unprintable", "Unprintable", "<Unprintable whose message cannot be shown>"),
    ("huge_message", "ValueError", "x" * MAX_ERROR_CHARS + f"… ({H.HUGE:,} characters, cut)"),
    ("blocks_forever", "Timeout", "attempt exceeded the 5 s task timeout"),
])
async def test_a_misbehaving_handler_is_a_failed_attempt_and_the_run_goes_on(
        function: str, kind: str, says: str) -> None:
    s = scenario(run={"duration": 20.0, "warmup": 0.0, "time_scale": 0.05},
                 arrivals={"rate": 2.0, "process": "constant"},
                 service={"handler": f"{MODULE}:{function}"},
                 retry={"max_attempts": 1}, pool={"workers": 3},
                 timeouts={"task": 5.0 if function == "blocks_forever" else 0.0})
    engine = live(s)
    frames = await run_to_end(engine)
    totals = engine.totals()
    page = await engine.dead_letters(DeadLetterQuery(limit=500))
    assert totals.dead_lettered == page.total >= 2
    assert totals.done >= totals.dead_lettered  # three tasks in four are fine
    assert {f.workers for f in frames} == {3}  # no worker died with its handler
    for dead in page.items:
        assert dead.task.payload["n"] % H.MISBEHAVES_EVERY == 0
        assert (dead.error_kind, dead.error) == (kind, says)
        assert len(dead.error) <= MAX_ERROR_CHARS + 40


@given(st.text(max_size=5000), st.sampled_from([ValueError, SystemExit, KeyboardInterrupt]))
def test_error_messages_are_bounded(text: str, kind: type[BaseException]) -> None:
    name, message = error_of(kind(text))
    assert name == kind.__name__ and 0 < len(message) <= MAX_ERROR_CHARS + 40


def test_the_process_exits_when_a_blocked_handler_outlives_the_run(tmp_path: Path) -> None:
    scenario_file = tmp_path / "blocks.toml"
    scenario_file.write_text(textwrap.dedent(f"""
        [run]
        duration = 20.0
        warmup = 0.0
        time_scale = 0.02
        [arrivals]
        process = "constant"
        rate = 2.0
        [service]
        handler = "{MODULE}:blocks_forever"
        [timeouts]
        task = 5.0
        [retry]
        max_attempts = 1
    """), encoding="utf-8")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "queuelab.cli", "run", str(scenario_file), "--engine", "live",
         "--out", str(tmp_path / "out"), "--allow-handler"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "out" / "summary.json").exists()
    assert time.monotonic() - started < 100


def test_the_cli_imports_a_scenarios_handler_only_when_allowed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from queuelab.cli import main

    marker = tmp_path / "imported"
    package = tmp_path / "someone_elses"
    package.mkdir()
    (package / "__init__.py").write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef handle(task):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("QUEUELAB_TRUSTED_MODULES", raising=False)
    s = tmp_path / "shared.toml"
    s.write_text('[run]\nduration = 2.0\nwarmup = 0.0\ntime_scale = 0.05\n'
                 '[service]\nhandler = "someone_elses:handle"\n')
    out = str(tmp_path / "out")
    assert main(["scenario", "check", str(s)]) == 0
    assert main(["run", str(s), "--out", out, "--quiet"]) == 0  # simulated
    assert main(["run", str(s), "--engine", "live", "--out", out, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert ("this scenario would import the module 'someone_elses' and run its code; pass "
            "--allow-handler if you trust it, or name the module in "
            "QUEUELAB_TRUSTED_MODULES") in err
    assert not marker.exists()  # nothing imported so far
    monkeypatch.setenv("QUEUELAB_TRUSTED_MODULES", "other, someone_elses")
    assert main(["run", str(s), "--engine", "live", "--out", out, "--quiet"]) == 0
    assert marker.exists()
