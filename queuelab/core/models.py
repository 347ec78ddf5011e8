"""The scenario's load models on the simulator's seeded streams.

The same five streams as `sim.engine` (`random.Random(f"{seed}:arrivals")` …) feed the same
`core` objects, so a live run draws the same arrival times as the simulated run of that
scenario, and - tasks being started in the same FIFO order - the same service times. A knob
change rebuilds one model on its own stream, leaving the others' draws where they were.
"""

from __future__ import annotations

import random

from queuelab.core.arrivals import ArrivalProcess, make_arrivals
from queuelab.core.failures import FailureModel, PriorityMix
from queuelab.core.scenario import Scenario
from queuelab.core.service import ServiceTime, make_service


class LoadModels:
    """Arrivals, service times, failures, priorities and backoff jitter of one run."""

    def __init__(self, scenario: Scenario) -> None:
        seed = scenario.run.seed
        self.rng_arrivals = random.Random(f"{seed}:arrivals")
        self.rng_service = random.Random(f"{seed}:service")
        self.rng_failures = random.Random(f"{seed}:failures")
        self.rng_priorities = random.Random(f"{seed}:priorities")
        self.rng_backoff = random.Random(f"{seed}:backoff")
        self.arrivals = self.build_arrivals(scenario)
        self.build_service(scenario)
        self.build_failures(scenario)

    def build_arrivals(self, s: Scenario) -> ArrivalProcess:
        a = s.arrivals
        self.arrivals = make_arrivals(
            a.process, self.rng_arrivals, rate=a.rate, burst_rate=a.burst_rate,
            burst_length=a.burst_length, quiet_length=a.quiet_length, to_rate=a.to_rate,
            over=a.over, amplitude=a.amplitude, period=a.period, at=a.at, extra=a.extra,
            length=a.length, times=a.trace_times,
        )
        return self.arrivals

    def build_service(self, s: Scenario) -> None:
        v = s.service
        self.service: ServiceTime = make_service(
            v.distribution, self.rng_service, mean=v.mean, low=v.low, high=v.high,
            sigma=v.sigma, shape=v.shape, samples=v.samples,
        )

    def build_failures(self, s: Scenario) -> None:
        """Failure model and priority mix (the simulator rebuilds them together too)."""
        f = s.failures
        self.failures = FailureModel(f.probability, f.poison_fraction, self.rng_failures)
        self.p_fail = f.probability
        self.p_poison = f.poison_fraction
        weights = s.priorities.weights
        self.mix = PriorityMix(weights, self.rng_priorities) if len(weights) > 1 else None

    def priority(self) -> int:
        return self.mix.draw() if self.mix is not None else 0

    def poison(self) -> bool:
        """Drawn once per task at creation, only when poison is possible (as the simulator)."""
        return self.p_poison > 0.0 and self.failures.is_poison()

    def attempt_fails(self, poison: bool) -> bool:
        """One attempt's fate; draws only when failures are possible (as the simulator)."""
        return poison or (self.p_fail > 0.0 and self.failures.attempt_fails(False))
