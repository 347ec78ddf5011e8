"""`queuelab monitor URL [--interval 5] [--out DIR]`: watch a real queue without touching it.

Prints one line per poll (depth, in flight, failed, consumers, rates), keeps every sample in
the source's history file (`io.history`), and with `--out` writes frames.csv (the run's
columns; what the source cannot see is empty) and summary.json when it stops: after
`--duration` seconds or at Ctrl-C. A poll that fails says why and the next one tries again;
only what polling cannot fix (a bad option, an ambiguous layout) ends it, with exit 2.

`queuelab monitor --list URL` lists a RabbitMQ vhost's queues to pick from.
`queuelab monitor export-csv URL --out FILE` writes a time range of the history as CSV;
`queuelab monitor export-trace URL --out FILE [--scenario S.toml]` a trace of arrival
counts (and a scenario replaying it; see `io.replay`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import signal
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from queuelab.core.monitoring import Alert, AlertRules
from queuelab.core.urls import redact_url
from queuelab.io.frames_csv import FramesCsvWriter
from queuelab.io.history import RETENTION_DAYS, HistoryStore, history_path
from queuelab.sources import SourceError, open_source

EXIT_INVALID = 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("url", help="amqp://…?queue=Q, redis://…?queue=Q, postgresql://…?queue=Q, "
                   "sqlite:///file.db?queue=Q (options: layout=, sql=, api=, via=)")
    p.add_argument("--interval", type=float, default=5.0,
                   help="Seconds between two polls (default 5).")
    p.add_argument("--duration", type=float,
                   help="Stop after this many seconds (default: at Ctrl-C).")
    p.add_argument("--out", type=Path, help="Folder for frames.csv and summary.json.")
    p.add_argument("--sql", help="A query returning one number (the ready depth), run in a "
                   "read-only transaction: PostgreSQL and SQLite sources.")
    p.add_argument("--history-dir", type=Path, dest="history_dir",
                   help="Where the history files are (default: the user data folder).")
    p.add_argument("--no-history", action="store_true", dest="no_history",
                   help="Keep no history of this watch.")
    p.add_argument("--retention", type=float, default=RETENTION_DAYS,
                   help=f"Days of history kept (default {RETENTION_DAYS:g}).")
    p.add_argument("--backlog", type=int, default=0,
                   help="Alert when the backlog is above this (0: off).")
    p.add_argument("--growing", type=float, default=0.0,
                   help="Alert when the backlog has grown for this many minutes (0: off).")
    p.add_argument("--list", action="store_true",
                   help="List the queues of a RabbitMQ vhost (management API) and stop.")
    p.add_argument("--quiet", action="store_true", help="Print nothing but errors.")
    p.set_defaults(func=_monitor)


def with_sql(url: str, sql: str | None) -> str:
    if not sql:
        return url
    return f"{url}{'&' if '?' in url else '?'}sql={quote(sql, safe='')}"


def _fail(text: str) -> int:
    print(f"queuelab monitor: {text}", file=sys.stderr)
    return EXIT_INVALID


def _monitor(ns: argparse.Namespace) -> int:
    if not ns.interval > 0 or not math.isfinite(ns.interval):
        return _fail(f"--interval must be a positive number of seconds, not {ns.interval:g}")
    if ns.duration is not None and not ns.duration > 0:
        return _fail(f"--duration must be positive, not {ns.duration:g}")
    if ns.retention <= 0:
        return _fail(f"--retention must be a positive number of days, not {ns.retention:g}")
    url = with_sql(ns.url, ns.sql)
    try:
        source = open_source(url)
    except SourceError as exc:
        return _fail(str(exc))
    if ns.list:
        return asyncio.run(_list(source))
    try:
        return asyncio.run(watch(source, ns))
    except SourceError as exc:
        return _fail(str(exc))


async def _list(source: Any) -> int:
    lister = getattr(source, "list_queues", None)
    if lister is None:
        return _fail("--list is for RabbitMQ (amqp://) sources")
    try:
        rows = await lister()
    except Exception as exc:
        return _fail(redact_url(str(exc)) or type(exc).__name__)
    print(f"{'queue':40} {'messages':>10} {'consumers':>10}")
    for name, messages, consumers in rows:
        print(f"{name:40} {messages:>10,} {consumers:>10,}")
    return 0


def _line(engine: Any) -> str:
    s = engine.last_sample
    if s is None:
        return ""
    stamp = datetime.fromtimestamp(s.t, UTC).strftime("%H:%M:%S")
    if not s.reachable:
        return f"{stamp}  gap: {s.error}"

    def n(v: float | None) -> str:
        return "-" if v is None else f"{v:,.0f}"

    frames = engine.last_frame
    rate = ("" if frames is None else
            f"  in {frames.arrival_rate:.2f}/s  out {frames.throughput:.2f}/s".replace(
                "nan/s", "-"))
    return (f"{stamp}  ready {n(s.ready)}  in flight {n(s.in_flight)}  failed {n(s.failed)}"
            f"  delayed {n(s.delayed)}  consumers {n(s.consumers)}{rate}")


async def watch(source: Any, ns: argparse.Namespace) -> int:
    """Poll until --duration or Ctrl-C; write the files; 0, or 2 on a lasting error."""
    from queuelab.monitor.engine import MonitorEngine

    history = None
    if not ns.no_history:
        path = history_path(source.url, ns.history_dir)
        history = HistoryStore(path, source.url, retention_days=ns.retention)

    def alert(a: Alert) -> None:
        print(f"ALERT {a.text}", file=sys.stderr, flush=True)

    engine = MonitorEngine(source, interval=ns.interval, history=history,
                           rules=AlertRules(ns.backlog, ns.growing), duration=ns.duration,
                           on_alert=alert)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, stop.set)
    if not ns.quiet:
        print(f"watching {source.url} every {ns.interval:g} s (read-only)"
              + (f"; history in {history.path}" if history else ""), flush=True)
    out_file = None
    writer = None
    if ns.out is not None:
        try:
            ns.out.mkdir(parents=True, exist_ok=True)
            out_file = (ns.out / "frames.csv").open("w", newline="", encoding="utf-8")
        except OSError as exc:
            return _fail(f"cannot write to {ns.out}: {exc.strerror or exc}")
        writer = FramesCsvWriter(out_file)
    engine.start()
    shown = 0
    method = ""
    try:
        while engine.state.value != "finished" and not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(0.2, ns.interval))
            frames = engine.take_frames()
            if frames and writer is not None:
                writer.write(frames)
            if not ns.quiet and engine.polls > shown:
                shown = engine.polls
                if source.method != method:
                    method = source.method
                    print(f"reading through: {method}", flush=True)
                print(_line(engine), flush=True)
        await engine.stop()
        if writer is not None:
            writer.write(engine.take_frames())
    finally:
        if out_file is not None:
            out_file.close()
        if history is not None:
            history.close()
    if engine.error is not None:
        return _fail(str(engine.error))
    summary = engine.summary().as_dict()
    if ns.out is not None:
        (ns.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n",
                                             encoding="utf-8")
    if not ns.quiet:
        print(f"{engine.polls} polls, {engine.gaps} gaps; {source.derivation.text}")
    return 0


# ---------------------------------------------------------------------- history exports


def add_export_arguments(p: argparse.ArgumentParser, *, trace: bool = False) -> None:
    p.add_argument("source", help="The source URL (its history file is found from it) or a "
                   "history .sqlite file.")
    p.add_argument("--from", dest="start", help="Start: ISO time (UTC), or -2h / -3d / -30m "
                   "relative to now (default: the first sample).")
    p.add_argument("--to", dest="end", help="End, the same way (default: the last sample).")
    p.add_argument("--out", type=Path, required=True, help="The file to write.")
    p.add_argument("--history-dir", type=Path, dest="history_dir",
                   help="Where the history files are (default: the user data folder).")
    if trace:
        p.add_argument("--scenario", type=Path,
                       help="Also write a scenario replaying the trace, ready to tune.")
        p.add_argument("--interval", type=float, default=60.0,
                       help="Seconds per count of the trace (default 60).")
    p.set_defaults(func=_export_trace if trace else _export_csv)


def parse_when(text: str | None, now: float) -> float | None:
    """An ISO time (UTC unless it says) or `-N[smhd]` before now; ValueError if neither."""
    if not text:
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    if text.startswith("-") and text[-1:] in units:
        return now - float(text[1:-1]) * units[text[-1]]
    when = datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def open_history(ns: argparse.Namespace) -> HistoryStore:
    """The history of `ns.source` (a URL or a file); SourceError if there is none."""
    text = ns.source
    path = Path(text) if "://" not in text else history_path(text, ns.history_dir)
    if not path.is_file():
        raise SourceError(f"no history for {redact_url(text)} (looked for {path})")
    return HistoryStore(path, prune=False)


def _range(ns: argparse.Namespace) -> tuple[float, float]:
    now = time.time()
    start = parse_when(ns.start, now)
    end = parse_when(ns.end, now)
    return (-math.inf if start is None else start, math.inf if end is None else end)


def _export_csv(ns: argparse.Namespace) -> int:
    try:
        start, end = _range(ns)
        store = open_history(ns)
    except (ValueError, SourceError) as exc:
        return _fail(str(exc))
    try:
        n = store.export_csv(ns.out, start, end)
    except OSError as exc:
        return _fail(f"cannot write {ns.out}: {exc.strerror or exc}")
    finally:
        store.close()
    print(f"wrote {n:,} samples to {ns.out}")
    return 0


def _export_trace(ns: argparse.Namespace) -> int:
    from queuelab.io.replay import ReplayError, write_replay

    if not ns.interval > 0 or not math.isfinite(ns.interval):
        return _fail(f"--interval must be a positive number of seconds, not {ns.interval:g}")
    try:
        start, end = _range(ns)
        store = open_history(ns)
    except (ValueError, SourceError) as exc:
        return _fail(str(exc))
    try:
        print(write_replay(store, ns.out, start, end, interval=ns.interval,
                           scenario_path=ns.scenario))
    except ReplayError as exc:
        return _fail(str(exc))
    except OSError as exc:
        return _fail(f"cannot write: {exc.strerror or exc}")
    finally:
        store.close()
    return 0
