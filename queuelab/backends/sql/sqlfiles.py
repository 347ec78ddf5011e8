"""The SQL of the SQL backend, kept in `.sql` files beside this module (as procrastinate does).

Statements read better, diff better and can be pasted into psql or sqlite3 when they sit
in SQL files rather than Python strings. Two kinds of file:

* `queries.<dialect>.sql`: named statements, each starting at a `-- name: <name>` line;
* `NNNN_<name>.<dialect>.sql`: schema migrations, applied in order by `migrate.py`; a
  statement ends with a `;` at the end of a line.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

_MIGRATION = re.compile(r"^(\d{4})_(\w+)\.(postgresql|sqlite)\.sql$")
_NAME = "-- name:"


def _read(filename: str) -> str:
    return files(__package__).joinpath(filename).read_text(encoding="utf-8")


@cache
def queries(dialect: str) -> dict[str, str]:
    """The named statements of `queries.<dialect>.sql`, comments and blank lines dropped."""
    found: dict[str, str] = {}
    name: str | None = None
    body: list[str] = []
    for line in [*_read(f"queries.{dialect}.sql").splitlines(), _NAME]:
        if line.startswith(_NAME):
            if name is not None:
                found[name] = "\n".join(body).strip().rstrip(";")
            name, body = line[len(_NAME) :].strip(), []
        elif line.strip() and not line.lstrip().startswith("--"):
            body.append(line)
    return found


def statements(script: str) -> list[str]:
    """A migration script split into its statements."""
    out: list[str] = []
    current: list[str] = []
    for line in script.splitlines():
        if not current and (not line.strip() or line.lstrip().startswith("--")):
            continue
        current.append(line)
        if line.rstrip().endswith(";"):
            out.append("\n".join(current).rstrip().rstrip(";"))
            current = []
    if any(line.strip() and not line.lstrip().startswith("--") for line in current):
        out.append("\n".join(current))
    return out


@cache
def migrations(dialect: str) -> tuple[tuple[int, str, tuple[str, ...]], ...]:
    """(version, name, statements) of every migration of a dialect, oldest first."""
    found = []
    for entry in files(__package__).iterdir():
        m = _MIGRATION.match(entry.name)
        if m and m.group(3) == dialect:
            found.append((int(m.group(1)), m.group(2), tuple(statements(entry.read_text("utf-8")))))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"{dialect} migrations must be numbered 1, 2, 3 …: {versions}")
    return tuple(found)
