"""Service-time distributions: how long a task takes once a worker has it.

The simulator draws one per attempt and schedules the completion; the live synthetic
handler sleeps that long. Each distribution is parametrised by its mean, so a user can
switch distribution without changing the load (utilization ρ = λ·mean/c stays put) and see
what the *shape* alone does; `scv` (variance / mean²) feeds the theory overlays
(Kingman, Allen–Cunneen).

`draw()` is the simulator's hot path: rng methods are bound in `__init__`, no per-call
allocation. Objects are cheap to build, so a knob change rebuilds one with the same rng.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from queuelab.core.checks import number as _number
from queuelab.core.limits import MAX_PARETO_SHAPE, MAX_SIGMA
from queuelab.core.streams import exponential_stream

_log = math.log
_exp = math.exp

SERVICE_DISTRIBUTIONS: tuple[str, ...] = (
    "constant",
    "exponential",
    "uniform",
    "lognormal",
    "pareto",
    "empirical",
)

@runtime_checkable
class ServiceTime(Protocol):
    """What both engines need from a load model's service side."""

    mean: float  # exact mean of the distribution, seconds
    scv: float  # squared coefficient of variation (inf when the variance is infinite)

    def draw(self) -> float:
        """One service time in seconds, >= 0."""
        ...


class ConstantService:
    """Every task takes exactly `mean` seconds (M/D/c: half the M/M/1 queueing delay)."""

    __slots__ = ("mean", "scv")

    def __init__(self, mean: float, rng: random.Random | None = None) -> None:
        self.mean = _number("mean", mean, above=0.0)
        self.scv = 0.0

    def draw(self) -> float:
        return self.mean


class ExponentialService:
    """Memoryless service (M/M/c), the case Erlang C predicts exactly.

    `draw` is a block stream (`core.streams`): the most common distribution gets the
    cheapest draw.
    """

    __slots__ = ("draw", "mean", "scv")

    def __init__(self, mean: float, rng: random.Random) -> None:
        self.mean = _number("mean", mean, above=0.0)
        self.scv = 1.0
        self.draw = exponential_stream(rng, self.mean)


class UniformService:
    """Uniform on [low, high]: bounded jitter around a typical time; mean = (low + high)/2."""

    __slots__ = ("_random", "_width", "high", "low", "mean", "scv")

    def __init__(self, low: float, high: float, rng: random.Random) -> None:
        self.low = _number("low", low, minimum=0.0)
        self.high = _number("high", high, above=0.0)
        if self.high < self.low:
            raise ValueError(f"high: must be >= low ({high!r} < {low!r})")
        self._width = self.high - self.low
        self.mean = 0.5 * (self.low + self.high)
        self.scv = self._width * self._width / 12.0 / (self.mean * self.mean)
        self._random = rng.random

    def draw(self) -> float:
        return self.low + self._width * self._random()


class LognormalService:
    """Lognormal with the given mean: right-skewed, like most measured request latencies.

    μ = ln(mean) − σ²/2 so that E[X] = mean whatever σ; scv = e^{σ²} − 1. Draws use
    `Random.gauss` (Box–Muller, one pair per two draws), faster than `lognormvariate`.
    """

    __slots__ = ("_gauss", "_mu", "mean", "scv", "sigma")

    def __init__(self, mean: float, sigma: float, rng: random.Random) -> None:
        self.mean = _number("mean", mean, above=0.0)
        self.sigma = _number("sigma", sigma, minimum=0.0, maximum=MAX_SIGMA)
        self._mu = math.log(self.mean) - 0.5 * self.sigma * self.sigma
        self.scv = math.expm1(self.sigma * self.sigma)
        self._gauss = rng.gauss

    def draw(self) -> float:
        return _exp(self._gauss(self._mu, self.sigma))


class ParetoService:
    """Classic (type I) Pareto with the given mean: a few huge tasks among many small ones.

    Support [x_m, ∞) with P(X > x) = (x_m/x)^shape and x_m = mean·(shape − 1)/shape, so
    the mean is `mean`; shape must be > 1 for the mean to exist. For shape <= 2 the
    variance is infinite (scv = inf): the sample mean converges slowly and queues behave
    much worse than an M/M/c prediction — which is the lesson.
    """

    __slots__ = ("_neg_inv_shape", "_random", "mean", "scale", "scv", "shape")

    def __init__(self, mean: float, shape: float, rng: random.Random) -> None:
        self.mean = _number("mean", mean, above=0.0)
        self.shape = _number("shape", shape, maximum=MAX_PARETO_SHAPE)
        if not self.shape > 1.0:
            raise ValueError(f"shape: must be > 1 for a finite mean (got {shape!r})")
        self.scale = self.mean * (self.shape - 1.0) / self.shape
        self.scv = 1.0 / (self.shape * (self.shape - 2.0)) if self.shape > 2.0 else math.inf
        self._neg_inv_shape = -1.0 / self.shape
        self._random = rng.random

    def draw(self) -> float:
        x: float = self.scale * (1.0 - self._random()) ** self._neg_inv_shape
        return x

    def survival(self, x: float) -> float:
        """P(X > x): the tail the theory pane can draw against the measured one."""
        return 1.0 if x < self.scale else (self.scale / x) ** self.shape


class EmpiricalService:
    """Draws uniformly from measured service times (already loaded): replay production."""

    __slots__ = ("_n", "_random", "mean", "samples", "scv")

    def __init__(self, samples: Sequence[float], rng: random.Random) -> None:
        self.samples = tuple(
            _number(f"samples[{i}]", x, minimum=0.0) for i, x in enumerate(samples)
        )
        self._n = len(self.samples)
        if not self._n:
            raise ValueError("samples: must not be empty")
        self.mean = math.fsum(self.samples) / self._n
        if not self.mean > 0.0:
            raise ValueError("samples: must have a positive mean (got all zeros)")
        variance = math.fsum((x - self.mean) ** 2 for x in self.samples) / self._n
        self.scv = variance / (self.mean * self.mean)
        self._random = rng.random

    def draw(self) -> float:
        # random() < 1 and n < 2**53, so the index is always < n.
        return self.samples[int(self._random() * self._n)]


def make_service(
    distribution: str,
    rng: random.Random,
    *,
    mean: float,
    low: float | None = None,
    high: float | None = None,
    sigma: float = 1.0,
    shape: float = 2.5,
    samples: Sequence[float] = (),
) -> ServiceTime:
    """Build the service-time distribution a scenario names; other knobs are ignored.

    `uniform`: low defaults to 0 and high to 2·mean − low, so `mean` alone gives [0, 2·mean];
    explicit low and high win over `mean`. `empirical`: the mean is the samples' own.
    """
    if distribution == "constant":
        return ConstantService(mean, rng)
    if distribution == "exponential":
        return ExponentialService(mean, rng)
    if distribution == "uniform":
        lo = 0.0 if low is None else _number("low", low, minimum=0.0)
        hi = 2.0 * _number("mean", mean, above=0.0) - lo if high is None else high
        return UniformService(lo, hi, rng)
    if distribution == "lognormal":
        return LognormalService(mean, sigma, rng)
    if distribution == "pareto":
        return ParetoService(mean, shape, rng)
    if distribution == "empirical":
        return EmpiricalService(samples, rng)
    raise ValueError(
        f"distribution: unknown service-time distribution {distribution!r} "
        f"(choose one of {', '.join(SERVICE_DISTRIBUTIONS)})"
    )
