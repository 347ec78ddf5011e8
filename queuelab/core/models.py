"""The scenario's load models on the run's seeded streams, shared by both engines.

The same streams (`core.streams.Streams`) feed the same `core` objects in both engines, so
a live run draws the same arrival times as the simulated run of that scenario, and - tasks
being started in the same FIFO order - the same service times and attempt outcomes. A knob
change rebuilds one model on its own stream (or just moves a threshold), leaving the other
streams' draws where they were.
"""

from __future__ import annotations

import random

from queuelab.core.arrivals import ArrivalProcess, make_arrivals
from queuelab.core.failures import FailureModel, PriorityMix
from queuelab.core.outcome import synthetic_fate
from queuelab.core.scenario import Scenario
from queuelab.core.service import ServiceTime, make_service
from queuelab.core.streams import Streams
from queuelab.core.task import Outcome


def scenario_arrivals(s: Scenario, rng: random.Random) -> ArrivalProcess:
    """The arrival process `s` names, drawing from `rng`: what both engines run, and what
    the plots' offered λ(t) is read from (`core.reference.offered_rate`), so the two
    cannot disagree on which knob means what."""
    a = s.arrivals
    return make_arrivals(
        a.process, rng, rate=a.rate, burst_rate=a.burst_rate,
        burst_length=a.burst_length, quiet_length=a.quiet_length, to_rate=a.to_rate,
        over=a.over, amplitude=a.amplitude, period=a.period, at=a.at, extra=a.extra,
        length=a.length, times=a.trace_times,
    )


class LoadModels:
    """Arrivals, service times, failures, priorities and backoff jitter of one run."""

    def __init__(self, scenario: Scenario) -> None:
        self.streams = Streams(scenario.run.seed)
        self.arrivals = self.build_arrivals(scenario)
        self.build_service(scenario)
        self.build_failures(scenario)

    def build_arrivals(self, s: Scenario) -> ArrivalProcess:
        self.arrivals = scenario_arrivals(s, self.streams.arrivals)
        return self.arrivals

    def build_service(self, s: Scenario) -> None:
        v = s.service
        self.service: ServiceTime = make_service(
            v.distribution, self.streams.service, mean=v.mean, low=v.low, high=v.high,
            sigma=v.sigma, shape=v.shape, samples=v.samples,
        )

    def build_failures(self, s: Scenario) -> None:
        """Failure thresholds and priority mix: new knobs on the same streams."""
        f = s.failures
        streams = self.streams
        self.failures = FailureModel(f.probability, f.poison_fraction, streams.poison,
                                     streams.attempt)
        self.p_fail = f.probability
        self.p_poison = f.poison_fraction
        weights = s.priorities.weights
        self.mix = PriorityMix(weights) if len(weights) > 1 else None

    def priority(self) -> int:
        """Drawn once per task at creation, one level or many."""
        u = self.streams.priority()
        return self.mix.level(u) if self.mix is not None else 0

    def poison(self) -> bool:
        """Drawn once per task at creation, whatever the poison fraction."""
        return self.failures.is_poison()

    def attempt(self, poison: bool, timeout: float) -> tuple[Outcome, float]:
        """A synthetic attempt starts: its service time and fate, both drawn whatever the
        knobs (service first, then the failure dice), and the timeout applied."""
        duration = self.service.draw()
        return synthetic_fate(self.failures.attempt_fails(poison), duration, timeout)

    def jitter(self) -> float:
        """The backoff jitter's uniform, drawn once per failed attempt, retried or not."""
        return self.streams.backoff()

    def client_jitter(self) -> float:
        """The client retry backoff's uniform, drawn once per abandoned task, retried or not."""
        return self.streams.clients()
