"""Where Help points: the sections of QueueLab's README, as links a browser opens.

QueueLab has no web site of its own, so Help opens the README that ships with it: the
checkout's README.md, or (in an installed wheel, which carries the README only as its
package description) a copy written once to the user's cache folder. Each section is linked
by its GitHub-style anchor, `#install-as-a-desktop-app`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_HEADING = re.compile(r"^##\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^(```|~~~)")


@dataclass(frozen=True)
class Section:
    title: str
    anchor: str


def slug(title: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return text.replace(" ", "-")


def sections(markdown: str) -> list[Section]:
    """The README's second-level headings, in order (code blocks skipped)."""
    out: list[Section] = []
    fenced = False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else _HEADING.match(line)
        if m:
            out.append(Section(m.group(1), slug(m.group(1))))
    return out


def _checkout_readme() -> Path | None:
    path = Path(__file__).resolve().parents[2] / "README.md"
    return path if path.is_file() else None


def _packaged_readme_text() -> str | None:
    """The README as the installed package's description (None when not installed)."""
    from importlib import metadata

    try:
        meta = metadata.metadata("queuelab")
    except metadata.PackageNotFoundError:
        return None
    text = meta.get_payload() if hasattr(meta, "get_payload") else None
    return str(text or (meta.get_all("Description") or [""])[0]) or None


def readme_file() -> Path | None:
    """A README.md on disk for a browser to open (written to the cache folder from the
    package description when only that exists), or None when this install has none."""
    found = _checkout_readme()
    if found is not None:
        return found
    text = _packaged_readme_text()
    if not text:
        return None
    import platformdirs

    copy = Path(platformdirs.user_cache_dir("QueueLab", appauthor=False)) / "README.md"
    try:
        if not copy.is_file() or copy.read_text(encoding="utf-8") != text:
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_text(text, encoding="utf-8")
    except OSError:
        return None
    return copy


def readme_text() -> str | None:
    """The README's Markdown: the checkout's file, else the installed package's description."""
    found = _checkout_readme()
    if found is not None:
        try:
            return found.read_text(encoding="utf-8")
        except OSError:
            return None
    return _packaged_readme_text()
