"""What a run would produce, estimated before it starts, against `core.limits`' budget.

Every knob may be in range and the run still impossible: a year at a millisecond sample
interval is 3 x 10^10 frames. Both engines refuse such a run when they are built (through
`core.validation`), so `scenario check`, `run`, a sweep's points and the app all say the
same reason and figure; nothing is counted while the run goes on (the simulator's hot path
stays free of checks).
"""

from __future__ import annotations

from queuelab.core import limits as L
from queuelab.core.scenario import Scenario


def peak_rate(s: Scenario) -> float:
    """The highest arrival rate the scenario's process reaches (tasks/s)."""
    a = s.arrivals
    extra = {"bursty": a.burst_rate, "ramp": a.to_rate, "sine": a.amplitude,
             "spike": a.extra}.get(a.process, 0.0)
    return a.rate + extra


def sends(s: Scenario) -> int:
    """The most tasks one request may become: 1, or 1 + the callers' retries when they time
    out (`[clients]`), with the largest timeout and retries its timeline may set."""
    scripted = [e for e in s.timeline if e.path.startswith("clients.")]
    if s.clients.timeout <= 0 and not any(e.path == "clients.timeout" for e in scripted):
        return 1
    retries = [s.clients.retries] + [int(e.value) for e in scripted
                                     if e.path == "clients.retries"
                                     and isinstance(e.value, int | float)]
    return 1 + max(retries)


def tasks(s: Scenario) -> float:
    """The most tasks the run can create: the trace's length, or the peak rate x duration,
    each request sent up to `sends` times."""
    if s.arrivals.process == "trace":
        return float(len(s.arrivals.trace_times)) * sends(s)
    return peak_rate(s) * s.run.duration * sends(s)


def frames(s: Scenario) -> float:
    """Metric frames the run writes: one per sample interval."""
    return s.run.duration / s.run.sample_interval


def events(s: Scenario) -> float:
    """Simulated events, at most: per task an arrival and a start and an end per attempt
    (and, when callers time out, its caller's deadline and resend), plus the samples and
    the autoscaler's checks and polls."""
    failing = s.failures.probability > 0 or s.failures.poison_fraction > 0
    attempts = s.retry.max_attempts if failing else 1
    callers = 2 if sends(s) > 1 else 0
    total = tasks(s) * (1 + 2 * attempts + callers) + frames(s)
    if s.pool.strategy == "dynamic":
        total += s.run.duration / s.pool.check_interval
        if s.pool.autoscaler == "keda":
            total += s.run.duration / s.pool.polling_interval
    return total


def over_budget(s: Scenario) -> list[tuple[str, str]]:
    """(knob path, reason with the figure) for each budget the run would exceed."""
    out: list[tuple[str, str]] = []
    n = frames(s)
    if n > L.MAX_FRAMES:
        out.append(("run.sample_interval",
                    f"this run would write {L.count(n)} frames (about "
                    f"{L.size(n * L.FRAME_BYTES)} of frames.csv; at most "
                    f"{L.count(L.MAX_FRAMES)}): raise run.sample_interval or shorten "
                    "run.duration"))
    n = tasks(s)
    if n > L.MAX_TASKS:
        out.append(("arrivals.rate",
                    f"this run would create up to {L.count(n)} tasks (peak "
                    f"{peak_rate(s):g}/s for {s.run.duration:g} s"
                    + (f", each sent up to {sends(s)} times by its caller" if sends(s) > 1
                       else "")
                    + f"; at most {L.count(L.MAX_TASKS)}): lower the rates"
                    + (" or clients.retries" if sends(s) > 1 else "")
                    + " or shorten run.duration"))
    n = events(s)
    if not out and n > L.MAX_EVENTS:
        out.append(("run.duration",
                    f"this run would take up to {L.count(n)} simulated events (at most "
                    f"{L.count(L.MAX_EVENTS)}): shorten run.duration, or lower "
                    "retry.max_attempts or the rates"))
    return out


def large_run(s: Scenario) -> str | None:
    """What makes a run within budget still large enough to ask about before it starts
    (the app asks; the CLI, which shows progress and can be stopped, just runs it)."""
    parts = []
    n = events(s)
    if n > L.ASK_EVENTS:
        parts.append(f"up to {L.count(n)} simulated events (minutes of CPU)")
    n = frames(s)
    if n > L.ASK_FRAMES:
        parts.append(f"{L.count(n)} frames (about {L.size(n * L.FRAME_BYTES)} if saved)")
    return f"This run will take {' and '.join(parts)}." if parts else None
