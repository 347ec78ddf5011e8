"""redis://'s waiting claimers, without a server: who is woken, and how soon.

`Wakeups` is plain asyncio; the subscription that feeds it is tested against a real
server in test_redis_faults.py.
"""

from __future__ import annotations

import asyncio

import pytest

from queuelab.backends.redis_queue.waiting import LOST_POLL, Wakeups

pytestmark = pytest.mark.asyncio


async def sleepers(w: Wakeups, n: int) -> list[asyncio.Task[bool]]:
    for _ in range(n):
        w.enter()  # as a claimer does before its first look
    tasks = [asyncio.create_task(w.wait(None)) for _ in range(n)]
    await asyncio.sleep(0.01)
    assert w.waiting == n
    return tasks


async def test_a_waiter_sleeps_through_quiet_until_the_poll() -> None:
    w = Wakeups(poll_interval=30.0)
    [t] = await sleepers(w, 1)
    await asyncio.sleep(5 * LOST_POLL)
    assert not t.done()  # nothing announced, the poll is 30 s away
    w.close()
    assert await t


async def test_while_the_subscription_is_lost_waiters_poll_fast() -> None:
    """Work published while the subscription is down is never announced: the timer looks
    every LOST_POLL seconds instead of every poll_interval, one waiter a tick."""
    w = Wakeups(poll_interval=30.0)
    a, b = await sleepers(w, 2)
    w.subscription_lost(True)
    done, _ = await asyncio.wait({a, b}, timeout=LOST_POLL * 1.5 + 0.05)
    assert done == {a}  # the oldest, first
    assert await asyncio.wait_for(b, LOST_POLL * 1.5 + 0.05)


async def test_a_restored_subscription_wakes_every_waiter_and_slows_the_poll() -> None:
    w = Wakeups(poll_interval=30.0)
    w.subscription_lost(True)
    tasks = await sleepers(w, 3)
    w.subscription_lost(False)  # messages may have been missed: everyone looks
    assert await asyncio.wait_for(asyncio.gather(*tasks), 0.05) == [True] * 3
    for _ in tasks:
        w.leave()  # they looked, found work and went
    [t] = await sleepers(w, 1)
    await asyncio.sleep(3 * LOST_POLL)
    assert not t.done()  # back to the plain poll
    w.close()
