"""A multi-objective search (NSGA-II, through Optuna) over the sweep's axes.

Each generation asks Optuna for `population` points, runs them with every seed like any
other point, and tells it each point's mean cost and mean objective. Asking and telling in
the sweep's order keeps the search deterministic for its seed, so the points chosen - and
runs.csv - do not depend on which executor ran them or in which order runs finished.
Optuna is optional: the sweep file refuses `method = "optuna"` when it is not installed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from queuelab.tuning.points import Point
from queuelab.tuning.spec import Sweep
from queuelab.tuning.stats import PointStats

Tell = Callable[[Sequence[PointStats]], None]


def generations(sweep: Sweep) -> Iterator[tuple[list[Point], Tell]]:
    """Batches of points to run, each with the function that reports their results back."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=sweep.search.population,
                                            seed=sweep.search.seed)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
    choices = [optuna.distributions.CategoricalDistribution(list(range(len(a.values))))
               for a in sweep.axes]
    number = 0
    while number < sweep.search.budget:
        size = min(sweep.search.population, sweep.search.budget - number)
        trials = [study.ask({f"a{i}": d for i, d in enumerate(choices)}) for _ in range(size)]
        batch = [Point(number + k, tuple(axis.values[t.params[f"a{i}"]]
                                         for i, axis in enumerate(sweep.axes)))
                 for k, t in enumerate(trials)]
        number += size

        def tell(points: Sequence[PointStats], trials: list = trials) -> None:  # type: ignore[type-arg]
            for trial, point in zip(trials, points, strict=False):
                cost = point.get("cost").mean
                wait = point.get(sweep.objective.metric).mean
                if point.runs and math.isfinite(cost) and math.isfinite(wait):
                    study.tell(trial, [cost, wait])
                else:
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)

        yield batch, tell
