"""The README's promise: its test command is what CI runs, and its examples are real."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return [line for block in re.findall(r"```sh\n(.*?)```", text, re.S)
            for line in block.splitlines() if line.startswith("python3 -m venv")]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = _readme_commands()
    assert len(commands) == 2, commands
    test_command = commands[1]
    assert "pytest" in test_command
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test_command in ci, "the README's test command is not a line of .ci/run"


def test_readme_first_command_opens_the_app() -> None:
    assert _readme_commands()[0].endswith(".venv/bin/queuelab")


def test_shipped_scenarios_named_in_readme_exist() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in re.findall(r"resources/scenarios/([\w-]+\.toml)", text):
        assert (ROOT / "resources" / "scenarios" / name).is_file(), name
