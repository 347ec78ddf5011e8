"""Checking scenario values: every refusal names the knob's path and the reason.

One checker serves the file reader, the CLI, the GUI form and changes made while a run
goes on, so a value refused in one place is refused everywhere with the same words.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from queuelab.core import limits
from queuelab.core.budget import over_budget
from queuelab.core.scenario import KNOBS, SECTIONS, KnobInfo, Scenario, split_path
from queuelab.core.timeline import MAX_ENTRIES, TimelineEntry, TimelinePlayer


@dataclass(frozen=True, slots=True)
class FieldError:
    """One refused value: where and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ScenarioError(ValueError):
    """A scenario (or a change to one) that cannot be used; lists every problem found."""

    def __init__(self, errors: list[FieldError] | FieldError):
        self.errors = [errors] if isinstance(errors, FieldError) else list(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


@dataclass(frozen=True, slots=True)
class ParamChange:
    """A change made while running: a knob's path and its new value."""

    path: str
    value: Any


def coerce(info: KnobInfo, value: Any) -> Any:
    """Turn a TOML/GUI value into the knob's type, or raise ScenarioError saying why."""
    kind = info.kind
    bad = FieldError
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise ScenarioError(bad(info.path, f"must be true or false (got {value!r})"))
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(bad(info.path, f"must be a whole number (got {value!r})"))
        if isinstance(value, float) and not value.is_integer():
            raise ScenarioError(bad(info.path, f"must be a whole number (got {value!r})"))
        return int(value)
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ScenarioError(bad(info.path, f"must be a number (got {value!r})"))
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise ScenarioError(bad(info.path, f"must be a string (got {value!r})"))
        return value
    if kind is tuple:
        if not isinstance(value, (list, tuple)):
            raise ScenarioError(bad(info.path, f"must be a list of numbers (got {value!r})"))
        out = []
        for i, v in enumerate(value):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ScenarioError(bad(f"{info.path}[{i}]", f"must be a number (got {v!r})"))
            out.append(float(v))
        return tuple(out)
    raise TypeError(f"{info.path}: unsupported knob type {kind}")  # a declaration bug


def field_errors(scenario: Scenario, *, require_data: bool = True,
                 since: float = -math.inf) -> list[FieldError]:
    """Every problem in a scenario: per-knob ranges, then rules that tie knobs together.

    `require_data=False` skips the checks that need trace/sample files already loaded
    (the file reader checks those once it has read them). `since`: a run is at that time,
    and the timeline's entries before it have been played.
    """
    errors: list[FieldError] = []
    for path, info in KNOBS.items():
        value = scenario.get(path)
        if info.kind is tuple:
            for i, v in enumerate(value):
                reason = info.knob.check(v, float)
                if reason:
                    errors.append(FieldError(f"{path}[{i}]", reason))
            continue
        reason = info.knob.check(value, info.kind)
        if reason:
            errors.append(FieldError(path, reason))
    errors.extend(_cross_errors(scenario, require_data))
    if not errors and scenario.timeline:  # a timeline is played over values that are in range
        errors.extend(timeline_errors(scenario, since))
    if not errors:  # a budget is only worth estimating from values that are in range
        errors.extend(FieldError(path, why) for path, why in over_budget(scenario))
    return errors


def _cross_errors(s: Scenario, require_data: bool) -> list[FieldError]:
    errs: list[FieldError] = []

    def need(ok: bool, path: str, reason: str) -> None:
        if not ok:
            errs.append(FieldError(path, reason))

    run, arr, svc, pool, retry = s.run, s.arrivals, s.service, s.pool, s.retry
    need(run.warmup < run.duration, "run.warmup",
         f"must be < run.duration ({run.warmup:g} >= {run.duration:g})")
    need(pool.max_workers >= pool.min_workers, "pool.max_workers",
         f"must be >= pool.min_workers ({pool.max_workers} < {pool.min_workers})")
    need(pool.scale_down_threshold <= pool.scale_up_threshold, "pool.scale_down_threshold",
         f"must be <= pool.scale_up_threshold "
         f"({pool.scale_down_threshold:g} > {pool.scale_up_threshold:g})")
    if pool.strategy == "dynamic" and pool.autoscaler == "keda":
        errs.extend(_keda_errors(s))
    weights = s.priorities.weights
    need(len(weights) > 0 and math.fsum(weights) > 0, "priorities.weights",
         "must hold at least one weight and sum to a positive number")
    need(len(weights) <= limits.MAX_PRIORITY_LEVELS, "priorities.weights",
         f"at most {limits.MAX_PRIORITY_LEVELS} levels (got {len(weights):,})")
    need(retry.max_delay >= retry.base_delay, "retry.max_delay",
         f"must be >= retry.base_delay ({retry.max_delay:g} < {retry.base_delay:g})")
    if svc.distribution == "uniform":
        need(svc.low <= svc.high, "service.low",
             f"must be <= service.high ({svc.low:g} > {svc.high:g})")
    if svc.distribution == "empirical" and require_data:
        need(bool(svc.samples), "service.path",
             "names no samples: give a CSV of service times" if not svc.path
             else f"holds no service times ({svc.path!r})")
        need(all(x >= 0 for x in svc.samples), "service.path", "service times must be >= 0")
    if arr.process == "trace" and require_data:
        need(bool(arr.trace_times), "arrivals.trace",
             "names no trace: give a CSV of arrival times" if not arr.trace
             else f"holds no arrival times ({arr.trace!r})")
    if arr.process not in ("trace",):
        peak = arr.rate + (arr.burst_rate if arr.process == "bursty" else 0.0) + (
            arr.to_rate if arr.process == "ramp" else 0.0) + (
            arr.amplitude if arr.process == "sine" else 0.0) + (
            arr.extra if arr.process == "spike" else 0.0)
        need(peak > 0 or arr.rate < 0, "arrivals.rate",
             "no task would ever arrive: every rate is 0")
    return errs


def _keda_errors(s: Scenario) -> list[FieldError]:
    """What the keda autoscaler refuses (policy text, whole-second windows, the idle count),
    in its own words: the policy object is the one place these rules live."""
    from queuelab.core.scenario_policies import autoscaler_for

    if s.pool.max_workers < s.pool.min_workers:
        return []  # already reported above
    try:
        autoscaler_for(s)
    except ValueError as exc:
        name, _, reason = str(exc).partition(": ")
        path = "pool.check_interval" if name == "sync_period" else f"pool.{name}"
        return [FieldError(path, reason)]
    return []


def timeline_errors(s: Scenario, since: float = -math.inf) -> list[FieldError]:
    """What is wrong with a scenario's timeline, each named `timeline[i].<field>`.

    Each entry must set a live knob inside the run (its restore too); then the timeline is
    played over the scenario in time order, every change checked as a change made by hand
    at that moment would be, so a value that is out of range, or that clashes with another
    knob at the time it is set, is refused before the run starts. Mid-run (`since`: the
    run's time) the entries already played are history and are not checked again.
    """
    errs: list[FieldError] = []
    end = s.run.duration
    if len(s.timeline) > MAX_ENTRIES:
        return [FieldError("timeline", f"at most {MAX_ENTRIES} entries "
                           f"(got {len(s.timeline):,})")]
    for i, e in enumerate(s.timeline):
        if e.at < since:
            continue
        where = f"timeline[{i}]"
        info = KNOBS.get(e.path)
        if info is None or not info.knob.in_file:
            errs.append(FieldError(f"{where}.set", f"no knob is called {e.path!r} "
                                   "(give a path such as arrivals.rate)"))
        elif not info.knob.live:
            errs.append(FieldError(f"{where}.set", f"{e.path} cannot change while a run "
                                   "goes on"))
        if not (math.isfinite(e.at) and 0.0 <= e.at < end):
            errs.append(FieldError(f"{where}.at", f"must be within the run, 0 <= at < "
                                   f"run.duration (got {e.at:g}; the run ends at {end:g})"))
        elif not (math.isfinite(e.duration) and e.duration >= 0.0):
            errs.append(FieldError(f"{where}.for", f"must be >= 0 s (got {e.duration:g})"))
        elif e.at + e.duration > end:
            errs.append(FieldError(f"{where}.for", f"the value would be restored at "
                                   f"{e.at + e.duration:g} s, after the run ends at {end:g} s"))
    if errs:
        return errs
    current = replace(s, timeline=())
    player = TimelinePlayer(s.timeline)
    while (c := player.pop(math.inf, current.get)) is not None:
        if c.at < since and not c.restore:
            continue  # played already (its restore then puts back the value it found)
        try:
            current = with_change(current, ParamChange(c.path, c.value), running=True,
                                  now=c.at)
        except ScenarioError as exc:
            field = "for" if c.restore else "value"
            errs.extend(FieldError(f"timeline[{c.index}].{field}", str(e))
                        for e in exc.errors)
    return errs


def validate(scenario: Scenario, *, since: float = -math.inf) -> Scenario:
    """Return the scenario unchanged, or raise ScenarioError listing every problem (mid-run,
    `since` is the run's time: see `field_errors`)."""
    errors = field_errors(scenario, since=since)
    if errors:
        raise ScenarioError(errors)
    return scenario


def with_change(scenario: Scenario, change: ParamChange, *, running: bool = False,
                now: float = 0.0) -> Scenario:
    """The scenario with one knob changed, validated like a file would be.

    With `running`, knobs that cannot change mid-run (the seed, the backend, the strategy)
    are refused with that reason, and so is a duration that would end the run before `now`
    (the clock, the frames and the summary would disagree about when it ended).
    """
    try:
        section, name = split_path(change.path)
    except KeyError as exc:
        raise ScenarioError(FieldError(change.path, str(exc.args[0]).split(": ", 1)[-1])) from None
    info = KNOBS[change.path]
    if running and not info.knob.live:
        raise ScenarioError(FieldError(change.path, "cannot change while a run goes on; "
                                       "reset the run to change it"))
    value = coerce(info, change.value)
    if (running and change.path == "run.duration" and isinstance(value, int | float)
            and value < now):
        raise ScenarioError(FieldError(change.path, f"the run is already at {now:,.0f} s: "
                                       f"a duration of {value:g} s would end it in the past"))
    new_section = replace(getattr(scenario, section), **{name: value})
    return validate(replace(scenario, **{section: new_section}),
                    since=now if running else -math.inf)


def from_dict(data: dict[str, Any], *, require_data: bool = True) -> Scenario:
    """Build a scenario from parsed TOML, refusing unknown keys and wrong types by path."""
    errors: list[FieldError] = []
    top: dict[str, Any] = {}
    for key, value in data.items():
        if key == "format":
            if value != 1:
                errors.append(FieldError("format", f"unsupported format {value!r} (this "
                                         "QueueLab reads format 1)"))
        elif key in ("name", "description"):
            if isinstance(value, str):
                top[key] = value
            else:
                errors.append(FieldError(key, f"must be a string (got {value!r})"))
        elif key == "timeline":
            top[key] = _timeline_from_list(value, errors)
        elif key in SECTIONS:
            if not isinstance(value, dict):
                errors.append(FieldError(key, "must be a table ([section])"))
                continue
            top[key] = _section_from_dict(key, value, errors)
        else:
            errors.append(FieldError(key, f"unknown section or key (known: format, name, "
                                     f"description, {', '.join(SECTIONS)}, timeline)"))
    scenario = Scenario(**top)
    # report range problems beside unknown keys, all in one go
    errors.extend(field_errors(scenario, require_data=require_data))
    if errors:
        raise ScenarioError(errors)
    return scenario


def _section_from_dict(section: str, values: dict[str, Any], errors: list[FieldError]) -> Any:
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{section}.{key}"
        info = KNOBS.get(path)
        if info is None or not info.knob.in_file:
            known = [i.name for i in KNOBS.values() if i.section == section and i.knob.in_file]
            errors.append(FieldError(path, f"unknown key (known in [{section}]: "
                                     f"{', '.join(known)})"))
            continue
        try:
            kwargs[key] = coerce(info, value)
        except ScenarioError as exc:
            errors.extend(exc.errors)
    if section == "breaker" and "enabled" not in kwargs:
        kwargs["enabled"] = True  # a [breaker] section in a file turns the breaker on
    return SECTIONS[section](**kwargs)


_ENTRY_KEYS = ("at", "set", "value", "for", "label")


def _timeline_from_list(value: Any, errors: list[FieldError]) -> tuple[TimelineEntry, ...]:
    """`[[timeline]]` tables as entries; each problem named `timeline[i].<key>`."""
    if not isinstance(value, list):
        errors.append(FieldError("timeline", "must be a list of tables ([[timeline]])"))
        return ()
    if len(value) > MAX_ENTRIES:
        errors.append(FieldError("timeline", f"at most {MAX_ENTRIES} entries "
                                 f"(got {len(value):,})"))
        return ()
    entries: list[TimelineEntry] = []
    for i, table in enumerate(value):
        where = f"timeline[{i}]"
        if not isinstance(table, dict):
            errors.append(FieldError(where, "must be a table ([[timeline]])"))
            continue
        bad = len(errors)
        for key in table:
            if key not in _ENTRY_KEYS:
                errors.append(FieldError(f"{where}.{key}", f"unknown key (known: "
                                         f"{', '.join(_ENTRY_KEYS)})"))
        for key in ("at", "set", "value"):
            if key not in table:
                errors.append(FieldError(f"{where}.{key}", "missing"))
        at, dur, path, label = (table.get("at", 0.0), table.get("for", 0.0),
                                table.get("set", ""), table.get("label", ""))
        for key, number in (("at", at), ("for", dur)):
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                errors.append(FieldError(f"{where}.{key}", f"must be a number of seconds "
                                         f"(got {number!r})"))
        for key, text in (("set", path), ("label", label)):
            if not isinstance(text, str):
                errors.append(FieldError(f"{where}.{key}", f"must be a string (got {text!r})"))
        if len(errors) > bad:
            continue
        info = KNOBS.get(path)
        v = table.get("value")
        if info is not None and info.knob.in_file:
            try:
                v = coerce(info, v)
            except ScenarioError as exc:
                errors.extend(FieldError(f"{where}.value", e.reason) for e in exc.errors)
                continue
        entries.append(TimelineEntry(float(at), path, v, float(dur), label))
    return tuple(entries)
