"""The simulator against queueing theory: M/M/c mean waits agree with Erlang C.

For each load and pool size, three seeds run long enough for the batch-means interval
to be meaningful. A correct simulator with a correct 95 % interval lands inside it for
most seeds and inside twice its width for all (a miss of 2× happens about once in 10^4).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from queuelab.core.scenario import Scenario
from queuelab.sim.engine import SimEngine

# tasks per run by load: the heavier the load, the slower the queue forgets its past
TASKS = {0.5: 30_000, 0.8: 60_000, 0.9: 100_000, 0.95: 200_000}
SEEDS = (1, 2, 3)


def mmc(rho: float, c: int, seed: int) -> Scenario:
    s = Scenario()
    rate = rho * c  # service mean 1 s, so mu = 1 and lambda = rho * c
    duration = TASKS[rho] / rate
    return replace(
        s,
        run=replace(s.run, duration=duration, warmup=duration * 0.02, seed=seed,
                    sample_interval=duration / 50),
        arrivals=replace(s.arrivals, process="poisson", rate=rate),
        service=replace(s.service, distribution="exponential", mean=1.0),
        pool=replace(s.pool, strategy="single" if c == 1 else "fixed", workers=c),
    )


@pytest.mark.parametrize("c", [1, 4, 16])
@pytest.mark.parametrize("rho", [0.5, 0.8, 0.9, 0.95])
def test_mean_wait_matches_erlang_c(rho: float, c: int) -> None:
    inside = 0
    for seed in SEEDS:
        engine = SimEngine(mmc(rho, c, seed))
        ref = engine.reference()
        assert ref is not None and ref.stable
        engine.run()
        engine.totals().check()
        s = engine.summary()
        assert s.mean_wait_ci95 > 0
        err = abs(s.mean_wait - ref.wq)
        assert err <= 2 * s.mean_wait_ci95, (
            f"rho={rho} c={c} seed={seed}: measured {s.mean_wait:.4f} ± "
            f"{s.mean_wait_ci95:.4f}, Erlang C {ref.wq:.4f}")
        inside += err <= s.mean_wait_ci95
        # utilization and the probability of waiting are much tighter estimates than the wait
        assert s.utilization == pytest.approx(rho, abs=0.03)
        assert s.extras["p_wait"] == pytest.approx(ref.p_wait, abs=0.05)
    assert inside >= 2, f"rho={rho} c={c}: only {inside} of {len(SEEDS)} seeds inside the CI"


def test_littles_law_holds_for_the_queue() -> None:
    """L_q = lambda * W_q: the mean depth over the frames against arrival rate × mean wait."""
    scenario = mmc(0.8, 4, 5)
    engine = SimEngine(replace(scenario, run=replace(scenario.run, sample_interval=1.0)))
    engine.run()
    frames = engine.take_frames()
    s = engine.summary()
    ref = engine.reference()
    assert ref is not None
    # the frame depth is a snapshot at each boundary; averaged over many it estimates L_q
    lq_measured = sum(f.depth for f in frames[1:]) / (len(frames) - 1)
    assert lq_measured == pytest.approx(ref.arrival_rate * s.mean_wait, rel=0.1)
