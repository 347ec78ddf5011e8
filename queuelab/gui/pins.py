"""Pinned runs: a finished (or stopped) run kept as a baseline beside the next ones.

A pin holds what the plots draw of it (a few columns of its frames, at most a few thousand
rows), the scenario that made it (so it can be saved and run again) and its figures per
seed (`tuning.runner.summary_figures`): the window's run, plus the replications run in the
background when more seeds were asked for. Up to MAX_PINS at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from queuelab.gui.plot_items import decimate
from queuelab.gui.plots import GHOST_COLUMNS, MAX_DRAWN_POINTS

if TYPE_CHECKING:
    from numpy.typing import NDArray

    from queuelab.core.scenario import Scenario
    from queuelab.gui.history import FrameHistory

MAX_PINS = 4
PIN_COLORS = ("#7f7f7f", "#4a9c8c", "#a3a33a", "#c48f88")
"""Muted hues for the ghost curves, one per pin slot: they recede behind the live ones."""


@dataclass
class PinnedRun:
    name: str
    scenario: Scenario
    color: str
    columns: dict[str, NDArray[np.float64]]
    runs: list[dict[str, Any]] = field(default_factory=list)  # figures per seed, first the window's
    seeds: list[int] = field(default_factory=list)
    visible: bool = True
    pending: int = 0  # replications still running
    #: every frame's time and wait percentiles (for the SLO share under another SLO);
    #: None when the window no longer held every frame of the run
    frames: dict[str, NDArray[np.float64]] | None = None


FRAME_STATISTICS = ("t", "wait_p95", "wait_p99")


def frame_statistics(history: FrameHistory) -> dict[str, NDArray[np.float64]] | None:
    """The run's exact per-frame wait percentiles, or None when older frames are folded."""
    if not history.complete:
        return None
    n = len(history)
    return {c: history.last(c, n).copy() for c in FRAME_STATISTICS}


def snapshot(history: FrameHistory) -> dict[str, NDArray[np.float64]]:
    """The ghost columns of the run held: the exact frames while the ring holds them all,
    else the folded whole-run copy; decimated to what a plot draws."""
    if history.complete:
        n = len(history)
        cols = {c: history.last(c, n).copy() for c in GHOST_COLUMNS}
    else:
        cols = {c: history.coarse.column(c).copy() for c in GHOST_COLUMNS}
    x = cols["t"]
    if x.size <= MAX_DRAWN_POINTS:
        return cols
    # one index set for every column keeps the rows aligned: the widest decimation of depth
    keep = np.unique(np.searchsorted(x, decimate(x, cols["depth"], MAX_DRAWN_POINTS)[0]))
    return {c: v[keep] for c, v in cols.items()}


class Pins:
    """The pinned runs in pin order; the first is the baseline the others are compared to."""

    def __init__(self) -> None:
        self.runs: list[PinnedRun] = []
        self._count = 0

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def full(self) -> bool:
        return len(self.runs) >= MAX_PINS

    def add(self, scenario: Scenario, columns: dict[str, NDArray[np.float64]],
            figures: dict[str, Any], seed: int) -> PinnedRun:
        if self.full:
            raise ValueError(f"at most {MAX_PINS} pinned runs: remove one first")
        used = {p.color for p in self.runs}
        color = next(c for c in PIN_COLORS if c not in used)
        self._count += 1
        name = "baseline" if not self.runs else f"pin {self._count}"
        pin = PinnedRun(name, scenario, color, columns, [figures], [seed])
        self.runs.append(pin)
        return pin

    def remove(self, pin: PinnedRun) -> None:
        self.runs.remove(pin)  # the next pin becomes the baseline by its place

    def rename(self, pin: PinnedRun, name: str) -> str | None:
        """None when renamed, else why not."""
        name = name.strip()
        if not name:
            return "a pinned run needs a name"
        if len(name) > 40:
            return "at most 40 characters"
        if any(p is not pin and p.name == name for p in self.runs):
            return f"another pinned run is named {name!r}"
        pin.name = name
        return None
