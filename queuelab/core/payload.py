"""The synthetic payload a generated task carries: JSON, deterministic from its number.

Both engines use it, so a dead letter shows the same payload whichever engine made it;
the simulator builds it only when someone looks, which keeps a long run's memory flat.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PAD = "queuelab-" * 8


def synthetic_payload(number: int, priority: int, size: int) -> dict[str, Any]:
    """A small JSON object: the task's number, its level and `size` bytes of padding."""
    pad = (_PAD * (size // len(_PAD) + 1))[:size]
    return {"n": number, "priority": priority, "pad": pad}


def synthetic_payload_search(size: int, needle: str) -> Callable[[int, int], bool]:
    """(number, priority) -> whether `needle` (lower case) occurs in the synthetic payload's
    text (`core.dead_letter_query.payload_text`), without writing the whole text: the
    simulator's search asks it of every dead letter, and the padding may be a megabyte.

    The text is head + number + middle + priority + tail, all lower case; the parts are
    fixed but the two numbers. A needle in a fixed part matches every payload; any other
    occurrence overlaps a number, so it lies within the numbers, the middle and len(needle)
    - 1 characters either side. tests/core/test_dead_letter_query.py checks the equivalence.
    """
    pad = (_PAD * (size // len(_PAD) + 1))[:size]
    head, middle, tail = '{"n": ', ', "priority": ', f', "pad": "{pad}"}}'
    if needle in head or needle in middle or needle in tail:
        return lambda number, priority: True
    reach = len(needle) - 1
    before, after = head[len(head) - reach :] if reach else "", tail[:reach]

    def found(number: int, priority: int) -> bool:
        return needle in f"{before}{number}{middle}{priority}{after}"

    return found


def task_id(number: int) -> str:
    """The id a generated task is known by, in tables and in every backend."""
    return f"t{number:08d}"
