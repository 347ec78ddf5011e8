"""`queuelab run [SCENARIO] [--duration S] [--seed N] [--out DIR]`: a run without a window.

Writes DIR/frames.csv (one row per sample interval) and DIR/summary.json, and prints a
summary with Erlang C's prediction beside the measurement when the scenario is M/M/c.

`--engine live` runs the same scenario for real (asyncio workers over the queue backend of
`queue.backend`, or `--backend URL`) at `--time-scale` wall seconds per scenario second
(default `run.time_scale`); its files have the same columns and keys, in scenario seconds.
Ctrl-C stops a live run draining in-flight work; a second Ctrl-C stops it at once.
A live run never deletes what its queue already holds unless `--purge` is given: it says
what it found and works it off as part of the run (counted as carried over).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from queuelab.core.engine import Engine, FoundTasks, Totals, drive
from queuelab.core.handler_trust import TRUSTED_ENV, is_trusted, refusal, trusted_modules
from queuelab.core.metrics import MetricsFrame
from queuelab.core.reference import mmc_reference, why_not_mmc
from queuelab.core.scenario import Scenario
from queuelab.core.segments import columns_of
from queuelab.core.segments import report as segment_report
from queuelab.core.urls import describe_failure, mask, redact_url
from queuelab.core.validation import FieldError, ScenarioError, validate
from queuelab.io.frames_csv import FramesCsvWriter
from queuelab.io.scenario_files import load_scenario

if TYPE_CHECKING:
    from queuelab.runtime.engine import LiveEngine

EXIT_INVALID = 2
EXIT_FAILED = 1
CONNECT_TIMEOUT = 10.0  # wall seconds to open a live run's backend
PROGRESS_AFTER = 2.0  # wall seconds before a progress bar appears
SLICE = 0.1  # wall seconds between two progress updates


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("scenario", nargs="?", type=Path,
                   help="Scenario TOML file (default: the built-in M/M/4 at 80 %% load).")
    p.add_argument("--duration", type=float, help="Override run.duration (scenario seconds).")
    p.add_argument("--seed", type=int, help="Override run.seed.")
    p.add_argument("--out", type=Path, default=Path("out"),
                   help="Folder for frames.csv and summary.json (default: ./out).")
    p.add_argument("--quiet", action="store_true", help="Print nothing but errors.")
    p.add_argument("--engine", choices=("simulated", "live"), default="simulated",
                   help="simulated (virtual time, default) or live (real workers and queue).")
    p.add_argument("--time-scale", type=float, dest="time_scale",
                   help="Live: wall seconds per scenario second (default: run.time_scale).")
    p.add_argument("--backend", help="Live: queue URL, overriding queue.backend "
                   "(memory://, sqlite:///file.db, postgresql://…, redis://…, amqp://…).")
    add_purge_argument(p)
    add_allow_handler_argument(p)
    p.set_defaults(func=_run)


def add_allow_handler_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--allow-handler", action="store_true", dest="allow_handler",
                   help="Live: import the scenario's service.handler module (its code runs); "
                        f"without it only modules named in {TRUSTED_ENV} are imported.")


def handler_refused(scenario: Scenario, ns: argparse.Namespace) -> str | None:
    """Why a live run may not import the scenario's handler, or None when it may."""
    name = scenario.service.handler
    if getattr(ns, "allow_handler", False) or is_trusted(
            name, trusted_modules(os.environ.get(TRUSTED_ENV, ""))):
        return None
    return refusal(name)


def add_purge_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--purge", action="store_true",
                   help="Live: delete every task and dead letter the queue holds before "
                        "starting (by default they are kept and worked off as part of the run).")


def scenario_for(ns: argparse.Namespace) -> Scenario:
    """The scenario a command line asks for, overrides applied and validated."""
    s = load_scenario(ns.scenario) if ns.scenario else Scenario(name="Default M/M/4")
    run = s.run
    if ns.duration is not None:
        run = replace(run, duration=ns.duration)
    if ns.seed is not None:
        run = replace(run, seed=ns.seed)
    if getattr(ns, "time_scale", None) is not None:
        run = replace(run, time_scale=ns.time_scale)
    if run.warmup >= run.duration and ns.duration is not None:
        run = replace(run, warmup=0.0)  # a short --duration should not trip over the warm-up
    s = replace(s, run=run)
    if getattr(ns, "backend", None):
        s = replace(s, queue=replace(s.queue, backend=ns.backend))
    flags = {"run.duration": ("--duration", ns.duration),
             "run.time_scale": ("--time-scale", getattr(ns, "time_scale", None)),
             "queue.backend": ("--backend", getattr(ns, "backend", None))}
    try:
        return validate(s)
    except ScenarioError as exc:  # name the flag rather than the knob where it came from one
        errs = [FieldError(flags[e.path][0] if flags.get(e.path, ("", None))[1] is not None
                           else e.path, e.reason) for e in exc.errors]
        raise ScenarioError(errs) from None


def _run(ns: argparse.Namespace) -> int:
    try:
        scenario = scenario_for(ns)
    except ScenarioError as exc:
        print(f"queuelab run: {ns.scenario or 'scenario'} is not valid:", file=sys.stderr)
        for err in exc.errors:
            print(f"  {err}", file=sys.stderr)
        return EXIT_INVALID
    refused = handler_refused(scenario, ns) if ns.engine == "live" else None
    if refused:
        print(f"queuelab run: {refused}", file=sys.stderr)
        return EXIT_INVALID
    try:
        ns.out.mkdir(parents=True, exist_ok=True)
        frames_file = (ns.out / "frames.csv").open("w", newline="", encoding="utf-8")
    except OSError as exc:
        print(f"queuelab run: cannot write to {ns.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    with frames_file:
        writer = FramesCsvWriter(frames_file)
        outcome = asyncio.run(run_engine(scenario, writer, live=ns.engine == "live",
                                         quiet=ns.quiet, purge=ns.purge))
        if isinstance(outcome, int):
            return outcome
        summary = outcome
    (ns.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if not ns.quiet:
        print(describe(scenario, summary))
        print(f"wrote {ns.out / 'frames.csv'} and {ns.out / 'summary.json'}")
    return 0


async def run_engine(scenario: Scenario, writer: FramesCsvWriter, *, live: bool,
                     quiet: bool = False, purge: bool = False) -> dict[str, Any] | int:
    """Run either engine to the end (`core.engine.drive`), streaming frames to the writer;
    an exit code instead when it cannot run or fails."""
    url = scenario.queue.backend
    engine: Engine | None
    live_engine: LiveEngine | None = None
    if live:
        engine = live_engine = await open_live_engine("queuelab run", scenario, purge=purge,
                                                      quiet=quiet)
    else:
        from queuelab.sim.engine import SimEngine

        engine = SimEngine(scenario)
    if engine is None:
        return EXIT_INVALID
    on_interrupt(engine)
    began = time.perf_counter()
    bar = _Progress(scenario.run.duration, enabled=not quiet and sys.stderr.isatty())

    # a run its timeline cuts into segments keeps the frames' running totals, to measure each
    # segment against the theory for its own knobs (`core.segments.report`)
    kept: list[MetricsFrame] | None = [] if scenario.timeline else None

    def each(frames: list[MetricsFrame]) -> None:
        writer.write(frames)
        if kept is not None:
            kept.extend(frames)
        assert engine is not None
        engine.totals().check()
        bar.show(engine.now, time.perf_counter() - began)

    try:
        await drive(engine, SLICE, each)
    except Exception as exc:
        bar.close()
        print(f"queuelab run: the {engine.kind} run failed: {failure(exc, url)}",
              file=sys.stderr)
        return EXIT_FAILED
    finally:
        await engine.aclose()
    bar.close()
    audits = engine.audit_failures
    if audits and not quiet:
        t, what = audits[0]
        print(f"warning: the backend's counts differed from the engine's at "
              f"{len(audits)} frame(s), first at t = {t:.1f} s: {what}", file=sys.stderr)
    parts = None if kept is None or engine.shared else segment_report(
        engine.changes, engine.now, engine.scenario, columns_of(kept))
    if live_engine is None:
        out = summary_dict(scenario, engine.summary().as_dict(), engine.kind,
                           books_dict(engine.totals()))
        if parts is not None:
            out["segments"] = parts
        return out
    ledger = live_engine.context.ledger if live_engine.context is not None else None
    out = summary_dict(scenario, engine.summary().as_dict(), engine.kind, books_dict(
        engine.totals(), acks_lost=ledger.acks_lost if ledger is not None else 0,
        shared=live_engine.shared), shared=live_engine.shared)
    if parts is not None:
        out["segments"] = parts
    return out


async def open_live_engine(command: str, scenario: Scenario, *, quiet: bool = False,
                           **options: Any) -> LiveEngine | None:
    """A LiveEngine with its backend open, or None after one line on stderr saying why.

    Shared by `queuelab run --engine live` and `queuelab worker`: a bad handler, a backend
    that does not answer in time or refuses are all one masked line, never a traceback.
    What the queue held, and what is done with it, is said on stderr (unless `quiet`).
    """
    from queuelab.runtime.engine import LiveEngine
    from queuelab.runtime.handlers import HandlerError

    url = scenario.queue.backend
    try:
        engine = LiveEngine(scenario, **options)
    except HandlerError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return None
    try:
        await asyncio.wait_for(engine.open(), CONNECT_TIMEOUT)
    except TimeoutError:
        print(f"{command}: cannot open the queue {redact_url(url)}: no answer within "
              f"{CONNECT_TIMEOUT:g} s", file=sys.stderr)
        return None
    except Exception as exc:  # whatever a driver raises: the queue cannot be used
        line = failure(exc, url)  # names the URL once: at its start, or where it says
        if not line.startswith("cannot open "):
            line = ("cannot open " if line.startswith(redact_url(url))
                    else "cannot open the queue: ") + line
        print(f"{command}: {line}", file=sys.stderr)
        return None
    if not quiet:
        what = found_message(engine.purged, engine.found)
        if what:
            print(f"{command}: {redact_url(url)} {what}", file=sys.stderr)
    for notice in engine.notices:  # warned even when quiet: the data is at risk
        print(f"{command}: warning: {mask(notice)}", file=sys.stderr)
    return engine


def found_message(purged: FoundTasks | None, found: FoundTasks) -> str:
    """What a live run found in its queue and what it does with it ('' for an empty one)."""
    if purged:
        return f"held {purged.describe()}: deleted (--purge)"
    if not found:
        return ""
    text = (f"holds {found.describe()}: kept, worked off as part of this run (carried over; "
            "--purge deletes them instead)")
    if found.in_flight:
        text += (f"; {found.in_flight:,} leased by another process (or one that died): this "
                 "run shares its queue")
    if found.approximate:
        text += ("; approximate: the broker reports other processes' leases from statistics "
                 "that lag a few seconds")
    return text


def on_interrupt(engine: Engine) -> None:
    """Ctrl-C (or SIGTERM): stop draining; a second one stops at once."""
    loop = asyncio.get_running_loop()
    stops: list[asyncio.Task[None]] = []  # referenced until the run ends

    def handle() -> None:
        drain = not stops
        if not drain:
            print("\nstopping now: in-flight tasks are handed back", file=sys.stderr)
        else:
            print("\nstopping: letting in-flight tasks finish (Ctrl-C again to stop now)",
                  file=sys.stderr)
        stops.append(loop.create_task(engine.stop(drain=drain)))

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not on this platform
            loop.add_signal_handler(sig, handle)


def failure(exc: BaseException, url: str) -> str:
    """One line about a failure to use `url`: QueueLab's own errors as written, a driver's
    with its type; credentials masked once, the URL named once."""
    from queuelab.backends.base import BackendError

    return describe_failure(exc, url, ours=isinstance(exc, BackendError))


def books_dict(totals: Totals, *, acks_lost: int = 0, shared: str | None = None
               ) -> dict[str, Any]:
    """The whole run's books at its very end (a live run's after its drain): where every
    task created or carried over is. They always balance; the window's figures need not."""
    return {"created": totals.created, "carried_over": totals.carried_over,
            "waiting": totals.waiting, "in_flight": totals.in_flight,
            "retrying": totals.retrying, "done": totals.done,
            "dead_lettered": totals.dead_lettered, "discarded": totals.discarded,
            "rejected": totals.rejected, "abandoned": totals.abandoned,
            "by_others": totals.by_others, "balanced": totals.balanced,
            "acks_lost": acks_lost, "shared": shared}


def summary_dict(scenario: Scenario, summary: dict[str, Any], engine: str,
                 books: dict[str, Any], *, shared: str | None = None) -> dict[str, Any]:
    """summary.json: the measurement window's figures (the top-level keys: after the
    warm-up, up to the run's end), the whole run's `books`, and the theory's prediction
    when it applies (never beside a queue other processes serve: it would not be this
    pool's)."""
    out: dict[str, Any] = {"scenario": scenario.name, "engine": engine,
                           "seed": scenario.run.seed, "warmup": scenario.run.warmup}
    out.update(summary)
    out["books"] = books
    # Little's law, L = lambda W, turns the measured wait into the mean number waiting
    duration, wait = summary.get("duration"), summary.get("mean_wait")
    if duration and wait is not None:
        rate = summary["arrived"] / duration
        out["littles_law"] = {"arrival_rate": rate, "mean_wait": wait, "lq": rate * wait}
    else:
        out["littles_law"] = None
    ref = None if shared else mmc_reference(scenario)
    if ref is not None:
        out["erlang_c"] = {"servers": ref.servers, "rho": ref.rho, "p_wait": ref.p_wait,
                           "lq": ref.lq if ref.stable else None,
                           "wq": ref.wq if ref.stable else None}
    else:
        out["erlang_c"] = None
        out["not_mmc_because"] = (f"other processes serve this queue ({shared})" if shared
                                  else why_not_mmc(scenario))
    return out


def _f(x: float | None, unit: str = "", digits: int = 3) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}{unit}"


def callers_line(s: dict[str, Any]) -> str:
    """What the callers (`[clients]`) did over the whole run, from the summary's figures."""
    denied = f" ({s['budget_denied']:,} for want of a budget token)" if s["budget_denied"] else ""
    return (f"  callers: {s['client_timeouts']:,} timed out waiting, {s['client_retries']:,} "
            f"retries sent (each a task in 'created'), {s['gave_up']:,} gave up{denied}; "
            f"wasted work {s['wasted_work']:,.0f} worker-seconds, {s['wasted_done']:,} "
            "completions nobody waited for")


def segment_line(i: int, part: dict[str, Any]) -> str:
    """One segment of a run its timeline cut: measured after its own warm-up, beside the
    theory for its own knobs (`core.segments.report`)."""
    after = f" after {'; '.join(part['changes'])}" if part["changes"] else ""
    head = (f"  segment {i + 1}, {part['start']:g}-{part['end']:g} s{after} (warm-up "
            f"{part['warmup']:.0f} s: {part['warmup_why']}): ")
    m, th = part["measured"], part["theory"]
    if m is None:
        return head + "nothing measured after its warm-up"
    text = head + f"mean wait {_f(m['wq'], ' s')} ± {_f(m['wq_ci95'], ' s')}"
    if th is not None and th["wq"] is not None:
        text += f" ({th['model']}: {th['wq']:.3f} s)"
    if m["p_block"]:
        text += f"; rejected {_f(100 * m['p_block'], ' %', 1)}"
        if th is not None:
            text += f" ({100 * th['p_block']:.1f} %)"
    if m["l"] is not None and m["w"] is not None:
        text += (f"; Little: L {m['l']:.3f} against λW {m['admitted_rate'] * m['w']:.3f} "
                 f"({100 * m['little_gap']:.2f} % apart)")
    return text


def describe(scenario: Scenario, s: dict[str, Any]) -> str:
    """The readable summary printed after a run."""
    b = s["books"]
    books = Totals(b["created"], b["waiting"], b["in_flight"], b["retrying"], b["done"],
                   b["dead_lettered"], b["discarded"], b["carried_over"], b["by_others"],
                   shared=b["shared"] is not None, rejected=b["rejected"],
                   abandoned=b["abandoned"])
    lines = [
        f"{scenario.name}: {s['engine']} run of {scenario.run.duration:g} s, seed "
        f"{scenario.run.seed}",
        f"  the whole run's books{' after the drain' if s['engine'] == 'live' else ''}: "
        f"{books.describe()}",
    ]
    if b["acks_lost"]:
        lines.append(f"  acks lost {b['acks_lost']:,}: work done after its lease had run out; "
                     "the task was handed out again, and counted done once")
    if "client_timeouts" in s:  # `[clients]`: whole-run counts, as the books
        lines.append(callers_line(s))
    if b["shared"]:
        lines.append(f"  shared queue: {b['shared']}; waiting, in flight, retrying and dead "
                     "are the backend's counts, 'done' this run's own acks")
    lines.append(
        f"  measured window {round(s['start'], 1):g}-{round(s['end'], 1):g} s (warm-up "
        f"{scenario.run.warmup:g} s excluded): arrived {s['arrived']:,}  completed "
        f"{s['completed']:,}  dead-lettered {s['dead_lettered']:,}")
    wait = f"  mean wait {_f(s['mean_wait'], ' s')} ± {_f(s['mean_wait_ci95'], ' s')} (95 %)"
    ref = s.get("erlang_c")
    if ref and ref["wq"] is not None:
        ok = (s["mean_wait"] is not None and s["mean_wait_ci95"] is not None
              and abs(s["mean_wait"] - ref["wq"]) <= s["mean_wait_ci95"])
        wait += (f"   Erlang C (M/M/{ref['servers']}): {ref['wq']:.3f} s "
                 f"{'- inside the interval' if ok else '- outside the interval'}")
    elif ref:
        wait += f"   Erlang C: unstable (rho = {ref['rho']:.3f} >= 1), the queue grows forever"
    lines.append(wait)
    little = s.get("littles_law")
    if little:
        line = (f"  mean queue length by Little's law: {little['arrival_rate']:.3f}/s x "
                f"{little['mean_wait']:.3f} s = {little['lq']:.3f}")
        if ref and ref["lq"] is not None:
            line += f"   (Erlang C Lq {ref['lq']:.3f})"
        lines.append(line)
    lines.append(f"  wait p50 {_f(s['wait_p50'], ' s')}  p95 {_f(s['wait_p95'], ' s')}  "
                 f"p99 {_f(s['wait_p99'], ' s')}  max {_f(s['max_wait'], ' s')}")
    u = s["utilization"]
    util = f"  utilization {_f(None if u is None else 100 * u, ' %', 1)}"
    if ref:
        util += f"   (theory {100 * min(ref['rho'], 1.0):.1f} %)"
    lines.append(util)
    lines += [segment_line(i, part) for i, part in enumerate(s.get("segments") or [])]
    lines.append(f"  workers at the end {s['final_workers']}, worker-seconds "
                 f"{s['worker_seconds']:,.0f}")
    rate = s["arrived"] / s["wall_seconds"] if s["wall_seconds"] else float("inf")
    if s["engine"] == "live":
        lines.append(f"  {s['events']:,} task events in {s['wall_seconds']:.2f} s of wall time "
                     f"through {redact_url(scenario.queue.backend)} (time scale "
                     f"{scenario.run.time_scale:g})")
    else:
        lines.append(f"  {s['events']:,} events in {s['wall_seconds']:.2f} s of wall time "
                     f"({rate:,.0f} tasks simulated per second)")
    return "\n".join(lines)


class _Progress:
    """A one-line progress bar on a terminal, shown only once a run takes a while."""

    def __init__(self, total: float, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.shown = False

    def show(self, now: float, elapsed: float) -> None:
        if not self.enabled or elapsed < PROGRESS_AFTER:
            return
        self.shown = True
        frac = min(1.0, now / self.total) if self.total else 1.0
        eta = elapsed / frac - elapsed if frac > 0 else float("inf")
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r  [{bar:<30}] {100 * frac:5.1f} %  t = {now:,.0f} s  "
                         f"eta {eta:,.0f} s ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
