"""Which engines this build has, and how to make one for a scenario.

Both engines are imported lazily: the live engine brings the backends' drivers with it and
may not be part of the build at all, so its absence disables the Live switch (with the
reason) instead of breaking the window.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from queuelab.core.engine import Engine
    from queuelab.core.scenario import Scenario

SIMULATED = "simulated"
LIVE = "live"

_MODULES = {
    SIMULATED: ("queuelab.sim.engine", "SimEngine"),
    LIVE: ("queuelab.runtime.engine", "LiveEngine"),
}


def unavailable_reason(kind: str) -> str | None:
    """Why an engine cannot be used in this build, or None when it can."""
    module, _ = _MODULES[kind]
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        return f"The {kind} engine is not part of this build ({module} is missing)."
    return None


def build_engine(kind: str, scenario: Scenario) -> Engine:
    """A new engine of `kind` for `scenario`, idle and ready to start."""
    module, name = _MODULES[kind]
    cls = getattr(importlib.import_module(module), name)
    return cls(scenario)  # type: ignore[no-any-return]
