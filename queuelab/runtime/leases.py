"""The lease heartbeat: renew the leases of tasks this process still holds.

A lease is how a backend notices a worker that vanished: the task comes back when it runs
out. A worker that is merely slow - a long task, an inline backoff, a pause, a prefetched
task waiting for a slot - must not lose its task that way, so one keeper renews every held
lease that is past half its length, three times per lease. It runs on wall time, like the
backends' leases themselves, and keeps running while the scenario clock is paused. It is
stopped by `stop()`, never cancelled: a cancelled renewal could leave a connection
mid-statement.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from queuelab.backends.base import LeaseLost
from queuelab.runtime.context import RunContext

MIN_PERIOD = 0.005  # wall seconds: a tiny scaled lease must not turn this into a busy loop


class LeaseKeeper:
    """Renews held leases until stopped; a lease found lost is left for its holder to find."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        ctx = self.ctx
        queue = ctx.queue
        while not self._stop.is_set():
            lease = ctx.wall_lease
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(MIN_PERIOD, lease / 3))
            if self._stop.is_set():
                return
            now = time.time()
            due = [d for d in ctx.held.values() if d.lease_until - now < lease / 2]
            for d in due:
                if id(d) not in ctx.held:  # settled while an earlier renewal was awaited
                    continue
                try:
                    await queue.extend(d, lease)
                except LeaseLost:
                    continue
