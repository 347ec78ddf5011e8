"""Refusing a bad constructor argument with its name and the reason, as the scenario reader does.

The load models are built from validated scenarios, but also directly (tests, the live
runtime after a change): they check their own arguments with the same words.
"""

from __future__ import annotations

import math


def number(name: str, value: object, *, low: float | None = None, strict: bool = False) -> float:
    """`value` as a finite float, at least (or, with `strict`, above) `low`; else ValueError."""
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name}: must be a number (got {value!r})") from None
    if not math.isfinite(x):
        raise ValueError(f"{name}: must be finite (got {value!r})")
    if low is not None:
        if strict and not x > low:
            raise ValueError(f"{name}: must be > {low:g} (got {value!r})")
        if not strict and not x >= low:
            raise ValueError(f"{name}: must be >= {low:g} (got {value!r})")
    return x
