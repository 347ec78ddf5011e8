"""Failure model and priority mix: which attempts fail, and how urgent each task is.

Two kinds of failure matter to a queue: transient ones, which a retry fixes, and poison
tasks, which fail every attempt and must end in the dead-letter queue instead of looping
forever. `FailureModel` draws poison once per task (the engine stores it on `Task.poison`)
and then decides each attempt.

Poison and attempt outcomes each have a stream of their own (`core.streams.Streams`), and
every decision takes exactly one uniform draw whatever the knob values (a probability of 0
or 1 included): turning one knob never shifts another's draws (common random numbers), and
the difference on the plots is the knob's alone. A knob change only moves a threshold.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence

from queuelab.core.checks import number
from queuelab.core.streams import Draw


def _probability(name: str, value: object) -> float:
    return number(name, value, minimum=0.0, maximum=1.0)


class FailureModel:
    """Attempts fail with `probability`; a `poison_fraction` of tasks fail every attempt."""

    __slots__ = ("attempt", "poison", "poison_fraction", "probability")

    def __init__(self, probability: float, poison_fraction: float, poison: Draw,
                 attempt: Draw) -> None:
        self.probability = _probability("probability", probability)
        self.poison_fraction = _probability("poison_fraction", poison_fraction)
        # one uniform per question asked, each kind of question on its own stream (the
        # simulator compares them inline on its hot path)
        self.poison = poison
        self.attempt = attempt

    def is_poison(self) -> bool:
        """Drawn once per task, when it is created."""
        return self.poison() < self.poison_fraction

    def attempt_fails(self, poison: bool) -> bool:
        """Whether this attempt fails: always for a poison task, else with `probability`."""
        return self.attempt() < self.probability or poison


class PriorityMix:
    """Priority levels 0..n-1 (the last is the most urgent), drawn in proportion to `weights`.

    Cumulative weights + bisect: one uniform draw (the caller's, from its own stream) and an
    O(log n) search per task. A level of weight 0 is never drawn.
    """

    __slots__ = ("_cumulative", "_total", "weights")

    def __init__(self, weights: Sequence[float]) -> None:
        values = []
        for i, w in enumerate(weights):
            values.append(number(f"weights[{i}]", w, minimum=0.0))
        if not values:
            raise ValueError("weights: must not be empty")
        self.weights = tuple(values)
        cumulative = []
        running = 0.0
        for x in values:
            running += x
            cumulative.append(running)
        if not running > 0.0:
            raise ValueError("weights: must have a positive sum (got all zeros)")
        self._cumulative = tuple(cumulative)
        self._total = running  # == _cumulative[-1], so u * total < it: index <= n-1

    @property
    def levels(self) -> int:
        return len(self.weights)

    @property
    def probabilities(self) -> tuple[float, ...]:
        """Each level's share of the tasks (for the scenario form and the theory pane)."""
        return tuple(w / self._total for w in self.weights)

    def level(self, u: float) -> int:
        """The level a uniform draw `u` in [0, 1) picks."""
        return bisect_right(self._cumulative, u * self._total)
