"""The Lua scripts, read from `scripts.lua` beside this module (as the SQL backend keeps its
statements in `.sql` files): Lua reads, diffs and pastes into `redis-cli --eval` better as
Lua than as Python strings.

Every operation that changes the queue is one script, so it is atomic. `scripts.lua` says
how its sections are written; each `Script` gets a generated header that binds its keys and
fixed arguments to Lua locals of those names (`tasks`, `ready`, `id`, `token` …), so the
bodies read like the design in `keys.py`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from importlib.resources import files

#: how many expired leases and due retries one pass moves; `counts` and `peek` loop passes
REAP_BATCH = 256

_FILE = "scripts.lua"
_PART, _SCRIPT = "-- part:", "-- script:"
_META = ("-- keys:", "-- argv:", "-- uses:")


@dataclass(frozen=True)
class Script:
    """One Lua script: the keys and fixed arguments it binds, its source and its SHA1."""

    name: str
    keys: tuple[str, ...]
    argv: tuple[str, ...]
    body: str
    source: str = field(init=False)
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        header = [_bind(self.keys, "KEYS"), _bind(self.argv, "ARGV")]
        source = "\n".join(h for h in header if h) + "\n" + self.body
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "sha", hashlib.sha1(source.encode()).hexdigest())


def _bind(names: tuple[str, ...], table: str) -> str:
    if not names:
        return ""
    values = ", ".join(f"{table}[{i}]" for i in range(1, len(names) + 1))
    return f"local {', '.join(names)} = {values}"


@dataclass
class _Section:
    kind: str  # "part" or "script"
    name: str
    meta: dict[str, tuple[str, ...]] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip("\n") + "\n"


def parse(text: str) -> dict[str, Script]:
    """The scripts of a `scripts.lua` text by name; ValueError naming what is malformed."""
    sections: list[_Section] = []
    for number, line in enumerate(text.splitlines(), 1):
        for marker, kind in ((_PART, "part"), (_SCRIPT, "script")):
            if line.startswith(marker):
                sections.append(_Section(kind, line[len(marker):].strip()))
                break
        else:
            if not sections:
                continue  # the file's own comments
            current = sections[-1]
            meta = next((m for m in _META if line.startswith(m)), None)
            if meta is not None and not current.lines:
                if current.kind != "script":
                    raise ValueError(f"{_FILE}:{number}: {meta} belongs to a script")
                current.meta[meta[3:-1]] = tuple(line[len(meta):].split())
            else:
                current.lines.append(line)
    parts = {s.name: s.text for s in sections if s.kind == "part"}
    parts["reap"] = parts.get("reap", "").replace("BATCH", str(REAP_BATCH))
    scripts: dict[str, Script] = {}
    for s in (s for s in sections if s.kind == "script"):
        unknown = [u for u in s.meta.get("uses", ()) if u not in parts]
        if unknown or s.name in scripts:
            raise ValueError(f"{_FILE}: script {s.name!r}: "
                             + (f"unknown parts {unknown}" if unknown else "defined twice"))
        body = "".join(parts[u] for u in s.meta.get("uses", ())) + s.text
        scripts[s.name] = Script(s.name, s.meta.get("keys", ()), s.meta.get("argv", ()), body)
    return scripts


_SCRIPTS = parse(files(__package__).joinpath(_FILE).read_text(encoding="utf-8"))

CLAIM = _SCRIPTS["claim"]
ACK = _SCRIPTS["ack"]
NACK = _SCRIPTS["nack"]
DEAD_LETTER = _SCRIPTS["dead_letter"]
EXTEND = _SCRIPTS["extend"]
ENQUEUE = _SCRIPTS["enqueue"]
REPROCESS = _SCRIPTS["reprocess"]
DISCARD = _SCRIPTS["discard"]
COUNTS = _SCRIPTS["counts"]
PEEK = _SCRIPTS["peek"]
DEAD_PAGE = _SCRIPTS["dead_page"]
DISCIPLINE = _SCRIPTS["discipline"]
GET_DEAD = _SCRIPTS["get_dead"]
PURGE = _SCRIPTS["purge"]

ALL = tuple(_SCRIPTS.values())
