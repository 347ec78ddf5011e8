"""Lesson files on disk: one TOML file per lesson, its scenarios inside it or beside it.

Reading goes through `io.bounded` (a regular file, within its size limit, UTF-8) like every
user file. A step names a scenario either from the lesson's own `[scenario.<name>]` tables
(checked like a scenario file, every problem named `scenario.<name>.<knob>`) or as a plain
`.toml` file name in the lesson's folder: a lesson cannot reach for `/dev/zero` or
`../../secret.toml`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from queuelab.core.scenario import Scenario
from queuelab.core.scenario_toml import parse
from queuelab.core.validation import FieldError, ScenarioError
from queuelab.core.validation import from_dict as scenario_from_dict
from queuelab.io.bounded import FileRefused, read_text
from queuelab.io.resources import resources_root
from queuelab.io.scenario_files import load_scenario, resolve_data
from queuelab.lessons.model import Lesson, LessonError, from_dict

MAX_LESSON_BYTES = 256_000
"""A lesson is a few screens of Markdown, a few scenarios and some checks: a quarter of a
megabyte is far more than one needs, and much less than a hostile file would like."""
MAX_SCENARIOS = 20  # [scenario.<name>] tables in one lesson


def load_lesson(path: str | Path) -> Lesson:
    """Read and check a lesson and the scenarios it names; LessonError names every problem."""
    p = Path(path)
    try:
        text = read_text(p, MAX_LESSON_BYTES)
    except FileRefused as exc:
        raise LessonError(FieldError("file", str(exc))) from None
    try:
        data = parse(text)
    except ScenarioError as exc:
        raise LessonError(exc.errors) from None
    inline = _inline_scenarios(data.get("scenario", {}), p.parent)

    def scenario(name: str) -> Scenario:
        if name in inline:
            return inline[name]
        if Path(name).name != name or name in (".", "..") or not name.endswith(".toml"):
            known = ", ".join(inline) or "none"
            raise LessonError(FieldError("file", "names neither one of the lesson's "
                                         f"[scenario.<name>] tables (it has: {known}) nor a "
                                         ".toml file in the lesson's own folder"))
        return load_scenario(p.parent / name)

    return from_dict(data, scenario)


def _inline_scenarios(raw: Any, folder: Path) -> dict[str, Scenario]:
    """The lesson's `[scenario.<name>]` tables as scenarios, or LessonError naming every
    bad value by its place in the lesson file."""
    if not isinstance(raw, dict):
        raise LessonError(FieldError("scenario", "must be tables [scenario.<name>]"))
    if len(raw) > MAX_SCENARIOS:
        raise LessonError(FieldError("scenario", f"at most {MAX_SCENARIOS} scenarios "
                                     f"(got {len(raw)})"))
    out: dict[str, Scenario] = {}
    errors: list[FieldError] = []
    for name, table in raw.items():
        if not isinstance(table, dict):
            errors.append(FieldError(f"scenario.{name}", "must be a table [scenario.<name>]"))
            continue
        try:
            out[name] = resolve_data(scenario_from_dict({"format": 1, "name": name, **table},
                                                        require_data=False), folder)
        except ScenarioError as exc:
            errors.extend(FieldError(f"scenario.{name}.{e.path}", e.reason)
                          for e in exc.errors)
    if errors:
        raise LessonError(errors)
    return out


def shipped_lessons() -> list[Path]:
    """The lessons QueueLab ships (`resources/lessons/NN-name.toml`), in order."""
    folder = Path(str(resources_root() / "lessons"))
    if not folder.is_dir():
        return []
    return sorted(f for f in folder.iterdir() if f.suffix == ".toml" and f.is_file())


def find_lesson(name: str) -> Path:
    """A lesson by path, or a shipped one by its file name or number (`06`, `6`)."""
    p = Path(name)
    if p.exists():
        return p
    for f in shipped_lessons():
        number = f.stem.split("-", 1)[0]
        if name in (f.name, f.stem, number, number.lstrip("0")):
            return f
    known = ", ".join(f.stem for f in shipped_lessons())
    raise FileNotFoundError(f"no lesson file {name!r}, and no shipped lesson of that name "
                            f"(shipped: {known})")
