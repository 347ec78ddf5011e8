"""A time range of a monitored queue's history → a trace of arrival counts and a scenario
that replays it, ready to tune (`queuelab monitor export-trace`, the window's "Simulate
this traffic").

* Arrivals: each history row's arrival rate times the time to the next reachable row,
  summed into `interval`-second bins; the fraction left when a bin's count is rounded is
  carried into the next, so the trace's total is the observed total. A bin the source was
  unreachable for throughout has no row: nothing is replayed there (the report says how
  much time that was). The trace format is counts per interval (`io/scenario_files.py`).
* Service time, an estimate where the source allows one, said so in the scenario's name
  and the report: while tasks waited every slot was working, so in flight / completion
  rate then is the mean service time (the median over those samples); without such busy
  periods, Little's law over the whole range (mean in flight / mean completion rate); with
  no in-flight count, consumers / completion rate in busy periods. Exponential.
* Workers (a fixed pool), an estimate too: while tasks waited every slot was busy, so the
  median in flight then; else the median number of consumers; else the default.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from queuelab.core.scenario import Scenario
from queuelab.io.history import HistoryStore
from queuelab.io.scenario_files import save_scenario


class ReplayError(Exception):
    """The history cannot make a trace (no rows, or no arrival rate): says why."""


@dataclass(frozen=True, slots=True)
class Replay:
    """A trace made from history, with what was estimated and how."""

    counts: tuple[tuple[float, float, int], ...]  # (start, end, n), seconds from `t0`
    t0: float  # wall-clock start of the range
    duration: float
    arrived: int
    unreachable: float  # seconds of the range with no reachable sample
    service_mean: float | None  # seconds (an estimate), None when it cannot be estimated
    service_how: str
    workers: int | None
    workers_how: str = ""

    def scenario(self, trace_file: str, source: str) -> Scenario:
        """A scenario replaying the trace (named with the source and the range)."""
        s = Scenario()
        when = datetime.fromtimestamp(self.t0, UTC).strftime("%Y-%m-%d %H:%M UTC")
        estimate = (f"service {self.service_mean:.3g} s estimated" if self.service_mean
                    else "service time not observable: the default")
        s = replace(
            s, name=f"Replay of {source} from {when} ({estimate})",
            run=replace(s.run, duration=self.duration, warmup=0.0,
                        sample_interval=max(1.0, self.duration / 3600.0)),
            arrivals=replace(s.arrivals, process="trace", trace=trace_file),
        )
        if self.service_mean:
            s = replace(s, service=replace(s.service, distribution="exponential",
                                           mean=self.service_mean))
        if self.workers:
            s = replace(s, pool=replace(s.pool, strategy="fixed", workers=self.workers))
        return s


def make_replay(store: HistoryStore, start: float = -math.inf, end: float = math.inf,
                interval: float = 60.0) -> Replay:
    """The replay of the rows with start <= t < end, in bins of `interval` seconds."""
    if not interval > 0:
        raise ReplayError(f"the interval must be positive, not {interval:g}")
    d = store.load(start, end)
    t = d["t"]
    if len(t) < 2:
        raise ReplayError("the history has fewer than two samples in that range")
    ok = d["reachable"] == 1
    rate = d["arrival_rate"]
    if not np.isfinite(rate[ok]).any():
        raise ReplayError("this source's history has no arrival rate (it shows depth only, "
                          "like Celery on Redis): there is nothing to replay")
    t0 = float(t[0])
    # each reachable row's rate holds over the interval that ENDS at it (core.monitoring)
    arrivals = np.zeros(len(t))
    for i in range(1, len(t)):
        if ok[i] and ok[i - 1] and math.isfinite(rate[i]):
            arrivals[i] = rate[i] * (t[i] - t[i - 1])
    unreachable = float(sum(t[i] - t[i - 1] for i in range(1, len(t))
                            if not (ok[i] and ok[i - 1])))
    duration = float(t[-1] - t0)
    nbins = max(1, math.ceil(duration / interval))
    observed = np.zeros(nbins, dtype=bool)
    totals = np.zeros(nbins)
    for i in range(1, len(t)):
        if ok[i] and ok[i - 1] and math.isfinite(rate[i]):
            b = min(nbins - 1, int((t[i] - t0) // interval))
            totals[b] += arrivals[i]
            observed[b] = True
    counts: list[tuple[float, float, int]] = []
    carry = 0.0
    for b in range(nbins):
        if not observed[b]:
            continue
        exact = totals[b] + carry
        n = max(0, round(float(exact)))
        carry = exact - n
        counts.append((b * interval, min(duration, (b + 1) * interval) or interval, n))
    mean, how = _service(d, ok)
    workers, workers_how = _workers(d, ok)
    return Replay(tuple(counts), t0, max(duration, interval), sum(c[2] for c in counts),
                  unreachable, mean, how, workers, workers_how)


BUSY_SAMPLES = 3  # samples with tasks waiting needed to read the pool's size off them


def _workers(d: dict[str, np.ndarray], ok: np.ndarray) -> tuple[int | None, str]:
    """While tasks wait, every slot is busy: the tasks in flight then count the slots (a
    Celery worker with 4 threads is one AMQP consumer but 4 slots). Else the consumers."""
    flight, ready = d["in_flight"][ok], d["ready"][ok]
    busy = np.isfinite(flight) & (ready > 0) & (flight > 0)
    if busy.sum() >= BUSY_SAMPLES:
        return (max(1, round(float(np.median(flight[busy])))),
                "an estimate: the median in flight while tasks waited (every slot busy)")
    consumers = d["consumers"][ok]
    consumers = consumers[np.isfinite(consumers) & (consumers > 0)]
    if len(consumers):
        return round(float(np.median(consumers))), "the median number of consumers seen"
    return None, "not observed (the default kept)"


def _service(d: dict[str, np.ndarray], ok: np.ndarray) -> tuple[float | None, str]:
    """Mean service time, an estimate: see the module."""
    done, flight, ready = d["completion_rate"][ok], d["in_flight"][ok], d["ready"][ok]
    known = np.isfinite(done) & np.isfinite(flight)
    busy = known & (ready > 0) & (flight > 0) & (done > 0)
    if busy.sum() >= BUSY_SAMPLES:
        mean = float(np.median(flight[busy] / done[busy]))
        return mean, ("estimate from the busy periods (tasks waited, so every slot worked): "
                      "in flight / completion rate")
    if known.any() and float(done[known].mean()) > 0 and float(flight[known].mean()) > 0:
        mean = float(flight[known].mean()) / float(done[known].mean())
        return mean, ("estimate by Little's law: mean in flight / mean completion rate "
                      f"({float(flight[known].mean()):.3g} / {float(done[known].mean()):.3g}/s)")
    consumers = d["consumers"][ok]
    busy = np.isfinite(done) & np.isfinite(consumers) & (ready > 0) & (done > 0) & (
        consumers > 0)
    if busy.any():
        mean = float(np.median(consumers[busy] / done[busy]))
        return mean, ("estimate from busy periods: consumers / completion rate while tasks "
                      "waited")
    return None, "not observable from this source (no completions, or no in-flight count)"


def write_replay(store: HistoryStore, out: Path, start: float = -math.inf,
                 end: float = math.inf, *, interval: float = 60.0,
                 scenario_path: Path | None = None) -> str:
    """Write the trace (and the scenario, when asked); return a report for a person."""
    r = make_replay(store, start, end, interval)
    out = Path(out)
    with out.open("w", newline="", encoding="utf-8") as fh:
        fh.write(f"# arrivals of {store.source or 'a monitored queue'} per interval, from "
                 f"{datetime.fromtimestamp(r.t0, UTC).isoformat(timespec='seconds')}; "
                 "spread as a Poisson process inside each interval when replayed\n")
        w = csv.writer(fh)
        w.writerow(("start", "end", "count"))
        w.writerows((f"{a:g}", f"{b:g}", n) for a, b, n in r.counts)
    lines = [f"wrote {out}: {r.arrived:,} arrivals in {len(r.counts):,} intervals of "
             f"{interval:g} s over {r.duration:,.0f} s"]
    if r.unreachable:
        lines.append(f"  the source was unreachable for {r.unreachable:,.0f} s: no arrivals "
                     "replayed there")
    lines.append(f"  service time: {r.service_how}"
                 + (f" = {r.service_mean:.3g} s" if r.service_mean else ""))
    lines.append(f"  workers: {r.workers or '-'}, {r.workers_how}")
    if scenario_path is not None:
        scenario_path = Path(scenario_path)
        try:
            trace = str(out.resolve().relative_to(scenario_path.resolve().parent))
        except ValueError:
            trace = str(out.resolve())
        scenario = r.scenario(trace, store.source or "a monitored queue")
        save_scenario(scenario_path, scenario)
        lines.append(f"wrote {scenario_path}: `queuelab run {scenario_path}` replays it")
    return "\n".join(lines)
