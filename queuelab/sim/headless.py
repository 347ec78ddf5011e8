"""A simulated run start to finish, for callers that want only its summary (exports)."""

from __future__ import annotations

from queuelab.core.metrics import RunSummary
from queuelab.core.scenario import Scenario
from queuelab.sim.engine import SimEngine

SLICE = 3600.0  # scenario seconds per slice: the frames of one slice are dropped after it


def simulate(scenario: Scenario) -> RunSummary:
    """Run the scenario to its end in virtual time; frames are not kept."""
    engine = SimEngine(scenario)
    engine.start()
    while engine.state.value != "finished":
        engine.run_for(SLICE)
        engine.take_frames()
    return engine.summary()
