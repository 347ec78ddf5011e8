"""A sweep: one base scenario, the axes that vary, the seeds, the objective and the cost.

`sweep_from_dict` turns a parsed sweep file (format 1) into a `Sweep`, refusing every bad
value with its field path, like a scenario file. Reading the file (and the base scenario
it may name) is `tuning.files`' job; everything here is pure.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from queuelab.core import limits
from queuelab.core.scenario import KNOBS, Scenario
from queuelab.core.validation import FieldError, ScenarioError, from_dict
from queuelab.tuning.axes import Axis, axis_from

FORMAT = 1
OBJECTIVES = ("wait_p95", "wait_p99", "mean_wait")
METHODS = ("grid", "random", "optuna")
MAX_POINTS = 1_000_000  # a grid larger than this is surely a typo
MAX_REPLICATIONS = 1000


class SweepError(ScenarioError):
    """A sweep that cannot run; lists every problem found, each with its field path."""


@dataclass(frozen=True, slots=True)
class Objective:
    """The service-level objective: `metric` (a wait statistic, seconds) at most `limit`."""

    metric: str = "wait_p95"
    limit: float = 2.0


@dataclass(frozen=True, slots=True)
class CostModel:
    """What a run costs: worker-hours at `worker_hour` each, plus `per_start` per cold start."""

    worker_hour: float = 1.0
    per_start: float = 0.0

    def cost(self, worker_seconds: float, starts: int) -> float:
        return self.worker_hour * worker_seconds / 3600.0 + self.per_start * starts


@dataclass(frozen=True, slots=True)
class Search:
    """How points are chosen: every one (grid), `budget` at random, or by NSGA-II (optuna)."""

    method: str = "grid"
    budget: int = 0  # random and optuna: points to run
    seed: int = 0  # random and optuna: the search's own dice, apart from the runs'
    population: int = 20  # optuna: points per generation


@dataclass(frozen=True, slots=True)
class Sweep:
    """Everything a sweep needs; the seeds are the same at every point (common random numbers)."""

    scenario: Scenario
    axes: tuple[Axis, ...]
    name: str = "Sweep"
    replications: int = 5
    first_seed: int = 1
    objective: Objective = Objective()
    cost: CostModel = CostModel()
    search: Search = Search()
    scenario_source: str = ""  # the base scenario's path as the file gave it, or "inline"

    @property
    def seeds(self) -> tuple[int, ...]:
        return tuple(range(self.first_seed, self.first_seed + self.replications))

    @property
    def grid_size(self) -> int:
        return math.prod(len(a.values) for a in self.axes)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(a.path for a in self.axes)


_TOP = ("format", "name", "description", "scenario", "replications", "seed", "axes", "slo",
        "cost", "search")


def sweep_from_dict(data: dict[str, Any],
                    load_scenario: Callable[[str], Scenario] | None = None) -> Sweep:
    """A Sweep from parsed TOML; SweepError lists every bad value by its path.

    `scenario` is an inline table (sections as in a scenario file) or a path, which
    `load_scenario` reads (the file reader passes one resolving it beside the sweep file).
    """
    errors: list[FieldError] = []

    def refuse(path: str, reason: str) -> None:
        errors.append(FieldError(path, reason))

    for key in data:
        if key not in _TOP:
            refuse(key, f"unknown key (known: {', '.join(_TOP)})")
    if data.get("format", FORMAT) != FORMAT:
        refuse("format", f"unsupported format {data['format']!r} (this QueueLab reads "
               f"format {FORMAT})")
    name = data.get("name", "Sweep")
    if not isinstance(name, str):
        refuse("name", f"must be a string (got {name!r})")
        name = "Sweep"

    scenario, source = _scenario(data.get("scenario"), load_scenario, errors)
    replications = _whole(data, "replications", 5, 1, MAX_REPLICATIONS, "replications", errors)
    first_seed = _whole(data, "seed", scenario.run.seed if scenario else 1, 0, 2**63 - 1,
                        "seed", errors)

    axes: list[Axis] = []
    raw_axes = data.get("axes")
    if not isinstance(raw_axes, dict) or not raw_axes:
        refuse("axes", "give at least one axis, e.g. [axes] \"pool.max_workers\" = [4, 8, 12]")
    else:
        for path, spec in _flatten(raw_axes):
            try:
                axes.append(axis_from(path, spec, f"axes.{path}"))
            except ScenarioError as exc:
                errors.extend(exc.errors)

    objective = _objective(data.get("slo"), errors)
    cost = _cost(data.get("cost", {}), errors)
    search = _search(data.get("search", {}), errors)
    if axes and not errors:
        size = math.prod(len(a.values) for a in axes)
        if size > MAX_POINTS:
            refuse("axes", f"the grid holds {size:,} points (at most {MAX_POINTS:,})")
        if search.method == "random" and search.budget > size:
            refuse("search.budget", f"must be <= the grid's {size:,} points "
                   f"(got {search.budget:,}); use method = \"grid\" to run them all")
        points = size if search.method == "grid" else search.budget
        runs = points * replications
        if size <= MAX_POINTS and runs > limits.MAX_SWEEP_RUNS:
            refuse("replications", f"this sweep would make {limits.count(runs)} runs "
                   f"({points:,} points x {replications:,} replications; at most "
                   f"{limits.count(limits.MAX_SWEEP_RUNS)}): fewer axis values, a random "
                   "search with a budget, or fewer replications")
    if errors or scenario is None:
        raise SweepError(errors)
    return Sweep(scenario=scenario, axes=tuple(axes), name=name, replications=replications,
                 first_seed=first_seed, objective=objective, cost=cost, search=search,
                 scenario_source=source)


def _flatten(table: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Axes by path: `"pool.max_workers" = …` and `pool.max_workers = …` (nested) alike."""
    out: list[tuple[str, Any]] = []
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and path not in KNOBS and not any(
                k in value for k in ("range", "linspace", "logspace")):
            out.extend(_flatten(value, f"{path}."))
        else:
            out.append((path, value))
    return out


def _scenario(raw: Any, load: Callable[[str], Scenario] | None,
              errors: list[FieldError]) -> tuple[Scenario | None, str]:
    if raw is None:
        errors.append(FieldError("scenario", "give the base scenario: a path "
                                 "(scenario = \"my.toml\") or an inline [scenario] table"))
        return None, ""
    try:
        if isinstance(raw, str):
            if load is None:
                raise ScenarioError(FieldError("file", "a path cannot be read here"))
            return load(raw), raw
        if isinstance(raw, dict):
            return from_dict(raw), "inline"
    except ScenarioError as exc:
        errors.extend(FieldError(f"scenario.{e.path}" if e.path != "file" else "scenario",
                                 e.reason) for e in exc.errors)
        return None, ""
    errors.append(FieldError("scenario", "must be a path or a table"))
    return None, ""


def _whole(table: dict[str, Any], key: str, default: int, lo: int, hi: int, path: str,
           errors: list[FieldError]) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        errors.append(FieldError(path, f"must be a whole number in {lo}..{hi:,} "
                                 f"(got {value!r})"))
        return default
    return value


def _number(table: dict[str, Any], key: str, default: float, path: str,
            errors: list[FieldError], *, positive: bool = False) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        errors.append(FieldError(path, f"must be a finite number (got {value!r})"))
        return default
    if value < 0 or (positive and value == 0):
        errors.append(FieldError(path, f"must be {'>' if positive else '>='} 0 (got {value!r})"))
        return default
    return float(value)


def _table(raw: Any, name: str, known: tuple[str, ...], errors: list[FieldError]
           ) -> dict[str, Any]:
    if not isinstance(raw, dict):
        errors.append(FieldError(name, "must be a table"))
        return {}
    for key in raw:
        if key not in known:
            errors.append(FieldError(f"{name}.{key}", f"unknown key (known: {', '.join(known)})"))
    return raw


def _objective(raw: Any, errors: list[FieldError]) -> Objective:
    if raw is None:
        errors.append(FieldError("slo", "give the objective, e.g. [slo] wait_p95 = 2.0 "
                                 "(seconds)"))
        return Objective()
    table = _table(raw, "slo", OBJECTIVES, errors)
    given = [k for k in OBJECTIVES if k in table]
    if len(given) != 1:
        if table or not errors:
            errors.append(FieldError("slo", "give exactly one of "
                                     f"{', '.join(OBJECTIVES)} (seconds)"))
        return Objective()
    metric = given[0]
    return Objective(metric, _number(table, metric, 2.0, f"slo.{metric}", errors,
                                     positive=True))


def _cost(raw: Any, errors: list[FieldError]) -> CostModel:
    table = _table(raw, "cost", ("worker_hour", "per_start"), errors)
    return CostModel(_number(table, "worker_hour", 1.0, "cost.worker_hour", errors),
                     _number(table, "per_start", 0.0, "cost.per_start", errors))


def _search(raw: Any, errors: list[FieldError]) -> Search:
    table = _table(raw, "search", ("method", "budget", "seed", "population"), errors)
    method = table.get("method", "grid")
    if method not in METHODS:
        errors.append(FieldError("search.method", f"must be one of {' | '.join(METHODS)} "
                                 f"(got {method!r})"))
        method = "grid"
    needs_budget = method in ("random", "optuna")
    if needs_budget and "budget" not in table:
        errors.append(FieldError("search.budget", f"give the points to run with "
                                 f"method = \"{method}\""))
    budget = _whole(table, "budget", 0, 1 if needs_budget else 0, MAX_POINTS, "search.budget",
                    errors) if "budget" in table else 0
    seed = _whole(table, "seed", 0, 0, 2**63 - 1, "search.seed", errors)
    population = _whole(table, "population", 20, 2, 10_000, "search.population", errors)
    if method == "optuna":
        try:
            import optuna  # noqa: F401  (only whether it is there)
        except ImportError:
            errors.append(FieldError("search.method", "optuna is not installed "
                                     "(pip install 'queuelab[optuna]'), or use grid or random"))
    return Search(method, budget, seed, population)
