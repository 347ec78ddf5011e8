"""The run's random streams, one per decision, and draws made in blocks at C speed.

Common random numbers: every random decision of a run has a stream of its own (`Streams`),
seeded from the scenario's seed and the stream's name alone, and each decision takes its
draw whether or not it is used (the failure dice are thrown when the failure probability is
0, the priority is drawn when there is one level). So the k-th decision of a kind sees the
k-th draw of its stream whatever the other knobs say: changing one knob never reshuffles
another knob's draws, and two runs that differ in one knob compare like with like.
`OWNERS` says which knobs may change a stream's draws.

The simulator takes three or four draws per task; a Python-level draw (a method frame
around `random()` and `log`) costs more than the rest of a task's bookkeeping. Here a
seeded NumPy generator fills a block of draws at once, and the stream hands them out
through a C iterator's `__next__`, about a tenth of the cost. The generator is seeded
from the `random.Random` the model was given, so a scenario's seed still decides every
draw, and a model rebuilt after a knob change continues deterministically.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from itertools import chain, islice, repeat

import numpy as np

BLOCK = 1024

Draw = Callable[[], float]

OWNERS: dict[str, tuple[str, ...]] = {
    "arrivals": ("arrivals.",),
    "service": ("service.",),
    "poison": ("failures.poison_fraction",),
    "attempt": ("failures.probability",),
    "priority": ("priorities.",),
    "backoff": ("retry.",),
}
"""Each stream and the knobs (a path, or a section ending in '.') that own its draws; the
seed (`run.seed`) owns them all."""


def generator_from(rng: random.Random) -> np.random.Generator:
    """A NumPy generator whose whole state follows from `rng`'s next 128 bits."""
    return np.random.Generator(np.random.PCG64(rng.getrandbits(128)))


def block_stream(fill: Callable[[int], list[float]], size: int = BLOCK) -> Draw:
    """An endless supply of draws: `fill(size)` makes each block, `__next__` hands them out."""
    return chain.from_iterable(map(fill, repeat(size))).__next__


_NEVER = object()


def draws(draw: Draw) -> Iterator[float]:
    """The same draws as an iterator, for a loop that advances it with `next()`.

    `next(it)` on a C iterator costs no call frame, where calling a block stream's bound
    `__next__` goes through a method wrapper (twice the cost; a compiled loop loses most
    of its gain there). A block stream hands over its own iterator, so the two share one
    position; any other draw is wrapped by `iter(draw, sentinel)`.
    """
    owner = getattr(draw, "__self__", None)
    if isinstance(owner, chain) and getattr(owner, "__next__", None) == draw:
        return owner
    return iter(draw, _NEVER)


def skip(it: Iterator[float], n: int) -> None:
    """Advance a stream's iterator past `n` draws nobody needs, at C speed (a decision whose
    draw is unused still takes it: this takes them all at once)."""
    if n > 0:
        next(islice(it, n, n), None)


def exponential_stream(rng: random.Random, mean: float) -> Draw:
    gen = generator_from(rng)
    return block_stream(lambda n: gen.exponential(mean, n).tolist())


def uniform_stream(rng: random.Random) -> Draw:
    """Uniform draws on [0, 1)."""
    gen = generator_from(rng)
    return block_stream(lambda n: gen.random(n).tolist())


class Streams:
    """The seeded streams of one run, shared by both engines through `core.models`.

    `arrivals` and `service` are `random.Random`s handed to the arrival process and the
    service-time distribution (a knob change rebuilds the model on the same one); the
    others are uniform draws on [0, 1) that the decisions compare with a knob, so a knob
    change moves a threshold and never the stream.
    """

    __slots__ = ("arrivals", "attempt", "backoff", "poison", "priority", "service")

    def __init__(self, seed: int) -> None:
        self.arrivals = random.Random(f"{seed}:arrivals")
        self.service = random.Random(f"{seed}:service")
        self.poison: Draw = uniform_stream(random.Random(f"{seed}:poison"))
        self.attempt: Draw = uniform_stream(random.Random(f"{seed}:attempt"))
        self.priority: Draw = uniform_stream(random.Random(f"{seed}:priorities"))
        self.backoff: Draw = uniform_stream(random.Random(f"{seed}:backoff"))
