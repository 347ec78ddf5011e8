"""A skipped draw is taken: after any mix of draws and skips, a block stream hands out what
it would have had every skipped draw been taken one by one (`core.streams.skip` passes whole
blocks over without making their floats, and must leave the generator exactly there)."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.streams import draws, exponential_stream, skip, uniform_stream

STEPS = st.lists(st.tuples(st.booleans(), st.integers(0, 5000)), max_size=30)


@settings(max_examples=60, deadline=None)
@given(steps=STEPS, seed=st.integers(0, 2**32), exponential=st.booleans())
def test_skip_is_taking_the_draws(steps: list[tuple[bool, int]], seed: int,
                                  exponential: bool) -> None:
    def stream() -> object:
        rng = random.Random(seed)
        return exponential_stream(rng, 0.5) if exponential else uniform_stream(rng)

    fast, slow = draws(stream()), draws(stream())  # type: ignore[arg-type]
    for take, n in steps:
        if take:
            assert [next(fast) for _ in range(n)] == [next(slow) for _ in range(n)]
        else:
            skip(fast, n)
            for _ in range(n):
                next(slow)
    assert [next(fast) for _ in range(3000)] == [next(slow) for _ in range(3000)]


def test_skip_passes_any_other_iterator_one_by_one() -> None:
    taken: list[int] = []

    def draw() -> float:
        taken.append(1)
        return 0.5

    it = draws(draw)
    skip(it, 7)
    skip(it, 0)
    assert len(taken) == 7
