"""The synthetic payload a generated task carries: JSON, deterministic from its number.

Both engines use it, so a dead letter shows the same payload whichever engine made it;
the simulator builds it only when someone looks, which keeps a long run's memory flat.
"""

from __future__ import annotations

from typing import Any

_PAD = "queuelab-" * 8


def synthetic_payload(number: int, priority: int, size: int) -> dict[str, Any]:
    """A small JSON object: the task's number, its level and `size` bytes of padding."""
    pad = (_PAD * (size // len(_PAD) + 1))[:size]
    return {"n": number, "priority": priority, "pad": pad}


def task_id(number: int) -> str:
    """The id a generated task is known by, in tables and in every backend."""
    return f"t{number:08d}"
