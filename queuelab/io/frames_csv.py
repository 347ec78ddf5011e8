"""Metric frames as CSV: one writer for `queuelab run` and the app's export.

Columns follow `core.metrics.FRAME_COLUMNS`; a value that is not a number (a percentile of
an interval in which nothing started) is written as an empty cell, which spreadsheets and
pandas read as missing.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from queuelab.core.metrics import FRAME_COLUMNS, MetricsFrame


def format_cell(value: float | int) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(round(value, 9))
    return str(value)


class FramesCsvWriter:
    """Appends frames to an open text stream, header first."""

    def __init__(self, stream: IO[str]) -> None:
        self._writer = csv.writer(stream, lineterminator="\n")
        self._writer.writerow(FRAME_COLUMNS)

    def write(self, frames: Iterable[MetricsFrame]) -> None:
        self._writer.writerows([format_cell(v) for v in f.as_row()] for f in frames)


def write_frames_csv(path: str | Path, frames: Iterable[MetricsFrame]) -> None:
    with Path(path).open("w", newline="", encoding="utf-8") as fh:
        FramesCsvWriter(fh).write(frames)


def read_frames_csv(path: str | Path) -> list[dict[str, float]]:
    """Rows back as floats (empty cells as NaN): for tests and comparisons."""
    with Path(path).open(newline="", encoding="utf-8") as fh:
        return [{k: (float(v) if v != "" else math.nan) for k, v in row.items()}
                for row in csv.DictReader(fh)]
