"""One form edit turned into a new scenario while no run goes on.

`core.validation.with_change` covers every knob except the two that name a data file (an
arrival trace, a service-time sample): choosing those must also read the file, which only
the io layer may do. Both paths refuse an invalid value with a ScenarioError naming it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from queuelab.core.scenario import KNOBS, split_path
from queuelab.core.validation import ParamChange, coerce, with_change
from queuelab.io.scenario_files import resolve_data

if TYPE_CHECKING:
    from pathlib import Path

    from queuelab.core.scenario import Scenario

# The knobs whose data is read from a file, and the knobs that decide whether it is needed.
DATA_FILE_KNOBS = frozenset({"arrivals.trace", "service.path"})
_NEEDS_DATA = DATA_FILE_KNOBS | {"arrivals.process", "service.distribution"}


def rebuild(scenario: Scenario, change: ParamChange, base: Path | None) -> Scenario:
    """The scenario with `change` made; relative data files are read from `base`."""
    if change.path not in _NEEDS_DATA:
        return with_change(scenario, change)
    section, name = split_path(change.path)
    value = coerce(KNOBS[change.path], change.value)
    changed = replace(scenario, **{section: replace(getattr(scenario, section), **{name: value})})
    # Forget data read for the old file name, so a renamed file is read afresh.
    changed = replace(
        changed,
        arrivals=replace(changed.arrivals, trace_times=()),
        service=replace(changed.service, samples=()),
    )
    return resolve_data(changed, base)
