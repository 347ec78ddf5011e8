"""Random draws made in blocks and handed out one at a time at C speed.

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
from itertools import chain, repeat

import numpy as np

BLOCK = 1024

Draw = Callable[[], float]


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


def exponential_stream(rng: random.Random, mean: float) -> Draw:
    gen = generator_from(rng)
    return block_stream(lambda n: gen.exponential(mean, n).tolist())


def uniform_stream(rng: random.Random) -> Draw:
    """Uniform draws on [0, 1)."""
    gen = generator_from(rng)
    return block_stream(lambda n: gen.random(n).tolist())
