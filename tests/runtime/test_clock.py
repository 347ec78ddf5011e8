"""The scenario clock: scaled time, pauses that stop it, pulses, and scenario-time timeouts."""

from __future__ import annotations

import asyncio

import pytest

from queuelab.runtime.clock import Pulse, ScenarioClock


@pytest.mark.asyncio
async def test_scenario_time_runs_at_the_time_scale() -> None:
    clock = ScenarioClock(0.01)
    assert clock.now() == 0.0 and not clock.started
    clock.start()
    await asyncio.sleep(0.05)  # 50 ms of wall time is 5 scenario seconds
    assert 4.5 <= clock.now() <= 8.0
    assert clock.wall(30.0) == pytest.approx(0.3)


@pytest.mark.asyncio
async def test_a_pulsed_sleep_never_ends_early_and_a_plain_one_is_right_on_average() -> None:
    clock = ScenarioClock(0.01)
    clock.start()
    for _ in range(5):
        t = clock.now() + 1.0
        assert await clock.sleep_until(t, Pulse())
        assert clock.now() >= t
    errors = []
    for _ in range(20):
        t = clock.now() + 0.5
        await clock.sleep_until(t)
        errors.append(clock.now() - t)
    # a plain sleep may end early by at most the learned lead (bounded by LEAD_MAX, 20 ms)
    assert min(errors) >= -0.02 / 0.01 - 1e-9
    assert sum(errors) / len(errors) < 0.5  # under half a scenario second late on average


@pytest.mark.asyncio
async def test_pausing_stops_scenario_time_and_holds_sleepers() -> None:
    clock = ScenarioClock(0.01)
    clock.start()
    done: list[float] = []

    async def sleeper() -> None:
        await clock.sleep_until(3.0, Pulse())
        done.append(clock.now())

    task = asyncio.create_task(sleeper())
    await asyncio.sleep(0.01)
    clock.pause()
    frozen = clock.now()
    await asyncio.sleep(0.06)  # past the sleeper's wall deadline
    assert clock.now() == frozen and not done and clock.paused
    clock.resume()
    await asyncio.wait_for(task, 1.0)
    assert done[0] >= 3.0
    assert clock.now() - frozen < 6.0  # the pause took no scenario time


@pytest.mark.asyncio
async def test_a_pulse_ends_a_sleep_early() -> None:
    clock = ScenarioClock(0.01)
    clock.start()
    pulse = Pulse()
    task = asyncio.create_task(clock.sleep_until(float("inf"), pulse))
    await asyncio.sleep(0.01)
    pulse.fire()
    assert await asyncio.wait_for(task, 1.0) is False
    with pytest.raises(ValueError, match="needs a pulse"):
        await clock.sleep_until(float("inf"))


@pytest.mark.asyncio
async def test_a_timeout_is_in_scenario_seconds_and_waits_out_a_pause() -> None:
    clock = ScenarioClock(0.01)
    clock.start()
    limit = clock.timeout(2.0)  # 20 ms of wall time
    with pytest.raises(TimeoutError):
        async with limit:
            await asyncio.sleep(1.0)
    assert limit.expired()

    paused_limit = clock.timeout(2.0)

    async def guarded() -> str:
        async with paused_limit:
            await asyncio.sleep(0.08)
        return "finished"

    task = asyncio.create_task(guarded())
    await asyncio.sleep(0.005)
    clock.pause()  # for 80 ms: the 20 ms deadline must not pass meanwhile
    await asyncio.sleep(0.08)
    clock.resume()
    assert await asyncio.wait_for(task, 1.0) == "finished"


def test_time_scale_must_be_positive() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        ScenarioClock(0.0)
