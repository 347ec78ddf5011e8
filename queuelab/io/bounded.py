"""Reading a file someone else gave us: regular files only, within a size limit, as text.

A scenario names its trace and samples files, and a sweep names its scenario: any of them
may be `/dev/zero`, a pipe that never ends or a gigabyte that is not what it claims. Every
reader of a user's file (`io.scenario_files`, `io.keda_yaml`, `tuning.files`) goes through
`read_bytes`/`read_text`, which refuse before reading and never read past the limit
(`core.limits`), and whose refusals name the file and why.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from queuelab.core.limits import size

BOM = "\ufeff"


class FileRefused(ValueError):
    """A file that is not read, with the reason (its path included)."""


def read_bytes(path: Path, limit: int) -> bytes:
    """At most `limit` bytes of a regular file, or FileRefused saying why not."""
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, pipe or socket"
            raise FileRefused(f"{path}: {kind}, not a regular file (only regular files "
                              f"of at most {size(limit)} are read)")
        if info.st_size > limit:
            raise FileRefused(f"{path}: {size(info.st_size)}, over the limit of "
                              f"{size(limit)} for this kind of file")
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise FileRefused(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    if len(data) > limit:  # it grew while we looked
        raise FileRefused(f"{path}: over the limit of {size(limit)} for this kind of file")
    return data


def decode(data: bytes, path: Path | str) -> str:
    """UTF-8 text (a leading byte-order mark, as Excel writes, dropped), or FileRefused
    naming the line of the first byte that is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FileRefused(f"{path}: line {line}: not UTF-8 text (byte "
                          f"0x{data[exc.start]:02x})") from None
    return text.removeprefix(BOM)


def read_text(path: Path, limit: int) -> str:
    """The text of a regular UTF-8 file of at most `limit` bytes, or FileRefused."""
    return decode(read_bytes(path, limit), path)
