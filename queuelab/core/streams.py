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
from itertools import chain, islice
from operator import length_hint
from typing import cast

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
    "clients": ("clients.",),
}
"""Each stream and the knobs (a path, or a section ending in '.') that own its draws; the
seed (`run.seed`) owns them all."""


def generator_from(rng: random.Random) -> np.random.Generator:
    """A NumPy generator whose whole state follows from `rng`'s next 128 bits."""
    return np.random.Generator(np.random.PCG64(rng.getrandbits(128)))


class _Blocks:
    """A stream's blocks, in order, for its `chain` to hand out.

    It keeps the iterator of the block being handed out, so a skip knows how many draws
    that block has left, and passes whole blocks over by drawing them without making their
    floats (a float object and its release cost ~20 times the draw): the generator ends
    exactly where handing them out would have left it.
    """

    __slots__ = ("_make", "_owed", "_size", "current")

    def __init__(self, make: Callable[[int], np.ndarray], size: int) -> None:
        self._make = make
        self._size = size
        self._owed = 0  # draws to pass over before the next one handed out
        self.current: Iterator[float] = iter(())

    def __iter__(self) -> _Blocks:
        return self

    def __next__(self) -> Iterator[float]:
        make, size, owed = self._make, self._size, self._owed
        while owed >= size:  # a block nobody sees: drawn, never made into floats
            make(size)
            owed -= size
        self._owed = 0
        block: Iterator[float] = iter(make(size).tolist())
        if owed:
            next(islice(block, owed, owed), None)
        self.current = block
        return block

    def skip(self, n: int) -> None:
        left = length_hint(self.current)
        if n <= left:
            next(islice(self.current, n, n), None)
        else:
            next(islice(self.current, left, left), None)
            self._owed += n - left


class _BlockStream(chain[float]):
    """The chain that hands a stream's draws out (C speed), and its blocks, for `skip`."""

    __slots__ = ("blocks",)
    blocks: _Blocks


def block_stream(make: Callable[[int], np.ndarray], size: int = BLOCK) -> Draw:
    """An endless supply of draws: `make(size)` draws each block, `__next__` hands them out."""
    blocks = _Blocks(make, size)
    stream = cast(_BlockStream, _BlockStream.from_iterable(blocks))
    stream.blocks = blocks
    return stream.__next__


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
    """Advance a stream's iterator past `n` draws nobody needs (a decision whose draw is
    unused still takes it: this takes them all at once). A block stream's whole blocks are
    drawn without being made into floats; any other iterator is advanced at C speed."""
    if n <= 0:
        return
    if isinstance(it, _BlockStream):
        it.blocks.skip(n)
    else:
        next(islice(it, n, n), None)


def exponential_stream(rng: random.Random, mean: float) -> Draw:
    gen = generator_from(rng)
    return block_stream(lambda n: gen.exponential(mean, n))


def uniform_stream(rng: random.Random) -> Draw:
    """Uniform draws on [0, 1)."""
    gen = generator_from(rng)
    return block_stream(lambda n: gen.random(n))


class Streams:
    """The seeded streams of one run, shared by both engines through `core.models`.

    `arrivals` and `service` are `random.Random`s handed to the arrival process and the
    service-time distribution (a knob change rebuilds the model on the same one); the
    others are uniform draws on [0, 1) that the decisions compare with a knob, so a knob
    change moves a threshold and never the stream.
    """

    __slots__ = ("arrivals", "attempt", "backoff", "clients", "poison", "priority", "service")

    def __init__(self, seed: int) -> None:
        self.arrivals = random.Random(f"{seed}:arrivals")
        self.service = random.Random(f"{seed}:service")
        self.poison: Draw = uniform_stream(random.Random(f"{seed}:poison"))
        self.attempt: Draw = uniform_stream(random.Random(f"{seed}:attempt"))
        self.priority: Draw = uniform_stream(random.Random(f"{seed}:priorities"))
        self.backoff: Draw = uniform_stream(random.Random(f"{seed}:backoff"))
        # the client retry backoff's jitter: one draw per task its caller abandons
        self.clients: Draw = uniform_stream(random.Random(f"{seed}:clients"))
