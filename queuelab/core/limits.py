"""Every limit on what a scenario may ask for, in one place: bounds a real system could
have, and a budget on what one run may produce.

A scenario is a file people share; opening someone else's must never exhaust the memory or
disk of whoever opens it. The knob descriptions (`core.scenario`), the policies
(`core.policies`), the service models (`core.service`), the file readers (`queuelab.io`),
the live worker (`runtime.worker`) and the simulator's dead-letter store (`sim.dead_letters`)
all read their limits here, and README's "Limits" paragraph lists them.
"""

from __future__ import annotations

# -- bounds on knobs --------------------------------------------------------------------
TICK = 0.001
"""s: the shortest positive duration anywhere (a millisecond). A nonzero time below it
(a denormal 5e-324) is a typo, and in a ratio or a product it overflows or never advances."""
MAX_SECONDS = 366 * 86_400.0
"""s: the longest duration, period, delay or timeout: a year."""
MAX_RATE = 1_000_000.0
"""tasks/s: the highest arrival rate (a large production fleet, not 1e308)."""
MAX_WORKERS = 10_000
"""the largest pool, concurrency or prefetch."""
MAX_ATTEMPTS = 1_000
"""the most attempts at one task."""
MAX_MULTIPLIER = 1_000.0
"""the largest backoff multiplier (each delay at most this many times the last)."""
MAX_BACKLOG = 1e9
"""tasks: the largest autoscaler threshold, target or activation value."""
MAX_FAILURE_THRESHOLD = 1_000_000
"""the largest circuit-breaker threshold or probe count."""
MAX_SIGMA = 8.0
"""the largest lognormal sigma: its scv e^(sigma^2) - 1 overflows a float past 26.6 and the
draws overflow long before; 8 already means a variance 6e27 times the squared mean."""
MAX_PARETO_SHAPE = 1_000.0
"""the largest Pareto shape (beyond it the tail is a constant in all but name)."""
MAX_RETRY_BUDGET = 1.0
"""the largest client retry budget: retries as a share of fresh arrivals (1 = one retry per
fresh request; more is no budget at all, which 0 says)."""
MAX_PRIORITY_LEVELS = 100
"""the most priority levels (weights)."""

# -- the budget of one run, checked before it starts ------------------------------------
MAX_TASKS = 100_000_000
"""tasks one run may create (peak arrival rate x duration): each is held while it waits."""
MAX_EVENTS = 2_000_000_000
"""simulated events one run may take (arrivals, attempts, retries, samples, checks)."""
MAX_FRAMES = 10_000_000
"""metric frames one run may write (duration / sample_interval)."""
ASK_EVENTS = 200_000_000
"""simulated events above which the app asks before starting (minutes of CPU)."""
ASK_FRAMES = 1_000_000
"""frames above which the app asks before starting (the plots' history folds them)."""
MAX_SWEEP_RUNS = 1_000_000
"""runs one sweep may make (points x replications), each within the budget above."""
FRAME_BYTES = 200
"""bytes of frames.csv per frame, about: the file size a frame count means."""

# -- files from others --------------------------------------------------------------------
MAX_SCENARIO_BYTES = 1_000_000
"""the largest scenario, sweep or KEDA file read."""
MAX_DATA_BYTES = 256_000_000
"""the largest trace or samples CSV read."""
MAX_DATA_ROWS = 5_000_000
"""the most arrival times or service times one file may hold."""
MAX_FIELD_CHARS = 131_072
"""the longest CSV field (the csv module's own limit, reported as a bad line)."""

# -- what a run keeps -------------------------------------------------------------------
MAX_ERROR_CHARS = 2_000
"""characters of a handler's error message kept with a failed attempt."""
DEAD_LETTERS_KEPT = 200_000
"""dead letters a simulated run keeps in memory (the newest, about 160 MB at most); the
rest are counted."""


def count(n: float) -> str:
    """A large count as a person reads it: 12,345 or 10^15."""
    if n < 1e7:
        return f"{n:,.0f}"
    exp = f"{n:.1e}".split("e")
    mantissa, power = float(exp[0]), int(exp[1])
    return f"10^{power}" if mantissa == 1.0 else f"{mantissa:g} x 10^{power}"


def size(n: float) -> str:
    """A byte count in SI units: 256 MB."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            v = n / scale
            return f"{v:,.0f} {unit}" if v >= 100 else f"{v:.3g} {unit}"
    return f"{n:.0f} B"
