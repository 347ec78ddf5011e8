"""Which engines this build has, and how to make one for a scenario.

Both engines are imported lazily: the live engine brings the backends' drivers with it and
may not be part of the build at all, so its absence disables the Live switch (with the
reason) instead of breaking the window.

A backend password is never in the scenario (it would reach settings and files): the live
engine is handed a queue opened from the full URL instead, and `close_handed_queue` closes
it when the window lets the engine go, since an engine does not close a queue it was given.
"""

from __future__ import annotations

import importlib
import importlib.util
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from queuelab.backends.base import TaskQueue
    from queuelab.core.engine import Engine
    from queuelab.core.monitoring import AlertRules
    from queuelab.core.scenario import Scenario

SIMULATED = "simulated"
LIVE = "live"
MONITOR = "monitor"
MIN_POLL = 0.5  # seconds: the monitor polls at the sample interval, never faster than this

_MODULES = {
    SIMULATED: ("queuelab.sim.engine", "SimEngine"),
    LIVE: ("queuelab.runtime.engine", "LiveEngine"),
    MONITOR: ("queuelab.monitor.engine", "MonitorEngine"),
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


_HANDED: weakref.WeakKeyDictionary[Any, TaskQueue] = weakref.WeakKeyDictionary()


def build_engine(kind: str, scenario: Scenario, url: str | None = None) -> Engine:
    """A new engine of `kind` for `scenario`, idle and ready to start.

    `url`: the scenario's backend URL with its password, when it has one the scenario
    does not carry; a live engine then runs on a queue opened from it.
    """
    if kind == MONITOR:
        from queuelab.gui.monitor_view import saved_alert_rules

        return build_monitor(url or scenario.queue.backend, scenario.run.sample_interval,
                             saved_alert_rules())
    module, name = _MODULES[kind]
    cls = getattr(importlib.import_module(module), name)
    if kind != LIVE or not url or url == scenario.queue.backend:
        return cls(scenario)  # type: ignore[no-any-return]
    from queuelab.backends import open_queue, parse_options

    options: dict[str, Any] = {}
    if scenario.queue.discipline != "fifo" and "discipline" not in parse_options(url):
        options["discipline"] = scenario.queue.discipline  # as the engine itself would
    queue = open_queue(url, **options)
    engine = cls(scenario, queue)
    _HANDED[engine] = queue
    return engine  # type: ignore[no-any-return]


def build_monitor(url: str, interval: float, rules: AlertRules | None = None) -> Engine:
    """A monitor engine watching the queue at `url` (password included, to connect with),
    polling every `interval` seconds, its samples kept in the source's history file.
    Raises SourceError (with what is wrong) for a URL no source can read."""
    from queuelab.io.history import HistoryStore
    from queuelab.monitor.engine import MonitorEngine
    from queuelab.sources import open_source

    source = open_source(url)
    return MonitorEngine(source, interval=max(MIN_POLL, interval),
                         history=HistoryStore.for_source(url), rules=rules)


async def close_handed_queue(engine: Engine) -> None:
    """Close the queue `build_engine` handed to `engine`, if it did (after the run)."""
    queue = _HANDED.get(engine)
    if queue is not None:
        try:
            await queue.close()
        finally:
            _HANDED.pop(engine, None)
