"""Scenario <-> TOML text (format 1). Text only: reading files is `queuelab.io`'s job.

The writer emits every knob with its label, unit and help as a comment, so a file made by
`queuelab scenario new` documents itself; it never writes a password (see `core.urls`).
"""

from __future__ import annotations

import json
import math
import tomllib
from typing import Any

from queuelab.core.scenario import FORMAT, KNOBS, SECTIONS, KnobInfo, Scenario
from queuelab.core.urls import strip_password
from queuelab.core.validation import FieldError, ScenarioError, from_dict


def loads(text: str, *, require_data: bool = True) -> Scenario:
    """Parse and validate TOML text; syntax errors are reported with their line.

    `require_data=False` lets a trace that is named but not yet loaded pass.
    """
    return from_dict(parse(text), require_data=require_data)


def parse(text: str) -> dict[str, Any]:
    """TOML text as a dict, or ScenarioError with the line: a byte-order mark is dropped,
    and nesting deeper than Python can recurse is refused in words, not a traceback."""
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(FieldError("file", f"not valid TOML: {exc}")) from None
    except RecursionError:
        lines = text.splitlines() or [""]
        opens = [ln.count("[") + ln.count("{") for ln in lines]
        line = opens.index(max(opens)) + 1  # the line that opens the most
        raise ScenarioError(FieldError("file", f"not valid TOML: line {line}: values "
                                       "nested too deeply")) from None


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return repr(v)
    if isinstance(v, str):
        # a JSON string is a TOML basic string, once DEL (legal in JSON) is escaped too
        return json.dumps(v, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(v, tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} to TOML")


def _comment(info: KnobInfo) -> str:
    k = info.knob
    extra = []
    if k.unit:
        extra.append(k.unit)
    if k.choices:
        extra.append(" | ".join(k.choices))
    tail = f" [{'; '.join(extra)}]" if extra else ""
    return f"# {k.label}{tail}: {k.help}"


def dumps(scenario: Scenario, *, comments: bool = True, all_knobs: bool = True) -> str:
    """TOML text for a scenario; with `all_knobs=False`, only values that differ from defaults.

    A breaker that is off is written as `enabled = false` so the file says so explicitly.
    """
    lines = [f"format = {FORMAT}", f"name = {_value(scenario.name)}"]
    if scenario.description:
        lines.append(f"description = {_value(scenario.description)}")
    for section in SECTIONS:
        body: list[str] = []
        for info in KNOBS.values():
            if info.section != section or not info.knob.in_file:
                continue
            value = scenario.get(info.path)
            if info.path == "queue.backend":
                value = strip_password(value)
            if not all_knobs and value == info.default and info.path != "breaker.enabled":
                continue
            if comments:
                body.append(_comment(info))
            body.append(f"{info.name} = {_value(value)}")
        if body:
            lines.append("")
            lines.append(f"[{section}]")
            lines.extend(body)
    for entry in scenario.timeline:
        lines += ["", "[[timeline]]"]
        if comments and entry is scenario.timeline[0]:
            lines.insert(-1, "# Scripted changes: at (s) set a live knob to value; with for (s), "
                         "put the old value back after that long")
        lines += [f"at = {_value(entry.at)}", f"set = {_value(entry.path)}",
                  f"value = {_value(entry.value)}"]
        if entry.duration:
            lines.append(f"for = {_value(entry.duration)}")
        if entry.label:
            lines.append(f"label = {_value(entry.label)}")
    return "\n".join(lines) + "\n"
