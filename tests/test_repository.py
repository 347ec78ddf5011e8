"""The repository explains itself: code and docs cite only files that are in it.

A reader of a clone has nothing else: a docstring that sends them to notes kept elsewhere
(a shared folder, a design file, a colleague's research) is a dead end, so what a
maintainer needs lives in docs/architecture.md and the citations point there.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: folders that are not the repository's own text: environments, caches, build output
_SKIP_DIRS = {
    ".git", ".venv", "venv", "build", "dist", "__pycache__", ".mypy_cache", ".ruff_cache",
    ".pytest_cache", ".hypothesis", ".import_linter_cache", "out",
}
_TEXT = {".py", ".md", ".toml", ".sql", ".lua", ".sh", ".spec", ".txt", ".cfg", ".ini",
         ".xml", ".desktop", ".yml", ".yaml", ""}

#: ways the code used to cite material kept outside the repository
_OUTSIDE = re.compile(
    r"research[ _-]notes?|\bnotes'|DESIGN\.md|PLATFORM(?:\.md| notes)|\bPLATFORM:"
    r"|\.\./shared|/work/|teaching\.md",
    re.IGNORECASE,
)
_MD_NAME = re.compile(r"(?<![\w/.-])((?:\.{0,2}/)?[\w./-]*\w\.md)\b")
_LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")


def _own_text_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        rel = path.relative_to(ROOT)
        if any(part in _SKIP_DIRS or part.endswith(".egg-info") for part in rel.parts):
            continue
        if path.is_file() and path.suffix in _TEXT and path != Path(__file__).resolve():
            files.append(path)
    return files


def _lines(path: Path) -> list[tuple[int, str]]:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return []
    return list(enumerate(text.splitlines(), 1))


def test_the_walk_sees_the_repository() -> None:
    names = {p.relative_to(ROOT).as_posix() for p in _own_text_files()}
    assert {"README.md", "docs/architecture.md", "pyproject.toml",
            "queuelab/backends/base.py", "tests/services.py"} <= names


def test_nothing_cites_notes_kept_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in _own_text_files()
        for n, line in _lines(path)
        if _OUTSIDE.search(line)
    ]
    assert not found, "cites material outside the repository:\n" + "\n".join(found)


def _exists(name: str, citing: Path) -> bool:
    """A cited file exists relative to the citing file, to the root, or by its base name."""
    if (citing.parent / name).resolve().is_file() or (ROOT / name).resolve().is_file():
        return (ROOT in (citing.parent / name).resolve().parents
                or ROOT in (ROOT / name).resolve().parents)
    return "/" not in name and any(ROOT.rglob(name))


def test_every_cited_markdown_file_is_in_the_repository() -> None:
    missing = [
        f"{path.relative_to(ROOT)}:{n}: {name}"
        for path in _own_text_files()
        for n, line in _lines(path)
        for name in _MD_NAME.findall(line)
        if not _exists(name, path)
    ]
    assert not missing, "cites markdown files the repository does not have:\n" + "\n".join(
        missing)


def test_markdown_links_point_into_the_repository() -> None:
    broken = [
        f"{path.relative_to(ROOT)}:{n}: {target}"
        for path in _own_text_files() if path.suffix == ".md"
        for n, line in _lines(path)
        for target in _LINK.findall(line)
        if "://" not in target and not target.startswith("mailto:")
        and not _exists(target, path)
    ]
    assert not broken, "links to files outside the repository:\n" + "\n".join(broken)
