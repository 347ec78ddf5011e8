"""`queuelab sweep FILE --out DIR`, `--resume DIR`, `sweep new FILE` and `sweep check FILE`.

The command is a view over `queuelab.tuning`: it picks the executor, streams the records
into the output folder, shows progress, and prints the frontier and the verdict.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

from queuelab.core.validation import ScenarioError
from queuelab.tuning.executors import ClusterLost, DaskCluster, Executor, LocalPool
from queuelab.tuning.files import DEFAULT_SWEEP, loads_sweep, read_sweep_text
from queuelab.tuning.report import frontier_table, verdict
from queuelab.tuning.results import SweepFolder, read_runs
from queuelab.tuning.spec import Sweep
from queuelab.tuning.sweep import RunRecord, run_sweep

EXIT_INVALID = 2
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
SCHEDULER_ENV = "QUEUELAB_DASK_SCHEDULER"
PROGRESS_EVERY = 0.5  # seconds between two progress lines


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("args", nargs="*", metavar="FILE",
                   help="the sweep file to run; or `new FILE` (write a commented one) or "
                        "`check FILE` (exit 2 naming every bad value)")
    p.add_argument("--out", type=Path, help="folder for runs.csv, points.csv, frontier.csv "
                   "and sweep.json (default: ./sweep-out)")
    p.add_argument("--resume", type=Path, metavar="DIR",
                   help="finish an interrupted sweep in DIR (its runs already done are kept)")
    p.add_argument("--cluster", metavar="WHERE",
                   help="dask (a local Dask cluster) or tcp://HOST:8786 (an existing Dask "
                        f"scheduler; also ${SCHEDULER_ENV}); default: a local process pool")
    p.add_argument("--workers", type=int, help="processes of the local pool or local Dask "
                   "cluster (default: every core)")
    p.add_argument("--force", action="store_true", help="new: overwrite FILE")
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=_main)


def _fail(message: str, code: int = EXIT_INVALID) -> int:
    print(f"queuelab sweep: {message}", file=sys.stderr)
    return code


def _main(ns: argparse.Namespace) -> int:
    args: list[str] = ns.args
    if args[:1] == ["new"]:
        return _new(args[1:], ns.force)
    if args[:1] == ["check"]:
        return _check(args[1:])
    if ns.workers is not None and ns.workers < 1:
        return _fail(f"--workers: must be >= 1 (got {ns.workers})")
    if ns.resume is not None:
        if args:
            return _fail("--resume DIR takes no sweep file: it reads the one DIR was made from")
        return _resume(ns)
    if len(args) != 1:
        return _fail("give one sweep file (queuelab sweep FILE --out DIR), or "
                     "`queuelab sweep new FILE` to write a commented one")
    path = Path(args[0])
    try:
        text = read_sweep_text(path)
        sweep = loads_sweep(text, path.parent)
    except ScenarioError as exc:
        return _invalid(str(path), exc)
    out: Path = ns.out or Path("sweep-out")
    if (out / "sweep.json").exists():
        return _fail(f"{out} already holds a sweep: --resume {out} to finish it, or choose "
                     "another --out")
    source = {"file": str(path.resolve()), "text": text, "base": str(path.resolve().parent)}
    return _execute(ns, sweep, source, out, done={})


def _invalid(name: str, exc: ScenarioError) -> int:
    print(f"queuelab sweep: {name} is not valid:", file=sys.stderr)
    for err in exc.errors:
        print(f"  {err}", file=sys.stderr)
    return EXIT_INVALID


def _new(args: list[str], force: bool) -> int:
    if len(args) != 1:
        return _fail("usage: queuelab sweep new FILE")
    path = Path(args[0])
    if path.exists() and not force:
        return _fail(f"{path} exists; pass --force to overwrite it")
    try:
        path.write_text(DEFAULT_SWEEP.format(name=path.stem.replace('"', "'")),
                        encoding="utf-8")
    except OSError as exc:
        return _fail(f"cannot write {path}: {exc.strerror or exc}")
    print(f"wrote {path}")
    return 0


def _check(args: list[str]) -> int:
    if not args:
        return _fail("usage: queuelab sweep check FILE [FILE ...]")
    status = 0
    for name in args:
        try:
            sweep = loads_sweep(read_sweep_text(name), Path(name).parent)
        except ScenarioError as exc:
            status = _invalid(name, exc)
            continue
        print(f"{name}: ok ({sweep.name}; {_size(sweep)})")
    return status


def _size(sweep: Sweep) -> str:
    points = (sweep.search.budget if sweep.search.method != "grid" else sweep.grid_size)
    return (f"{points:,} points × {sweep.replications} seeds = {points * sweep.replications:,}"
            f" runs, {sweep.search.method} search over a grid of {sweep.grid_size:,}")


def _resume(ns: argparse.Namespace) -> int:
    folder: Path = ns.resume
    try:
        meta = json.loads((folder / "sweep.json").read_text(encoding="utf-8"))
        source = meta["source"]
        sweep = loads_sweep(source["text"], Path(source["base"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return _fail(f"{folder} holds no sweep to resume ({type(exc).__name__}: {exc})")
    except ScenarioError as exc:
        return _invalid(f"{folder}/sweep.json", exc)
    done: dict[tuple[int, int], RunRecord] = {}
    for name in ("runs.csv", "runs.csv.part"):  # .part: what a hard kill left behind
        if (folder / name).exists():
            try:
                for r in read_runs(folder / name, sweep):
                    done[(r.point, r.seed)] = r
            except (OSError, ValueError) as exc:
                return _fail(f"cannot resume from {folder / name}: {exc}")
    return _execute(ns, sweep, source, folder, done)


def _executor(ns: argparse.Namespace) -> Executor:
    where = ns.cluster or os.environ.get(SCHEDULER_ENV) or "local"
    if where == "local":
        return LocalPool(ns.workers)
    _hush_dask()
    if where == "dask":
        return DaskCluster(workers=ns.workers)
    if where.startswith("tcp://"):
        return DaskCluster(where)
    raise ValueError(f"--cluster: must be dask or tcp://HOST:PORT (got {where!r})")


def _hush_dask() -> None:
    """Dask logs a lost connection with its traceback; the command says it in one line."""
    try:
        import distributed  # noqa: F401  (its import sets its loggers' levels)
    except ImportError:
        return  # DaskCluster says how to install it
    for name in list(logging.root.manager.loggerDict):
        if name == "distributed" or name.startswith("distributed."):
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _versions() -> dict[str, str]:
    from queuelab import __version__, native

    out = {"queuelab": __version__, "simulator": native.status(),
           "python": platform.python_version()}
    for name in ("numpy", "dask", "distributed", "optuna"):
        try:
            from importlib.metadata import version

            out[name] = version(name)
        except Exception:
            continue
    return out


def _write_meta(folder: Path, sweep: Sweep, source: dict[str, Any], extra: dict[str, Any]
                ) -> None:
    meta = {"format": 1, "name": sweep.name, "source": source,
            "digest": hashlib.sha256(source["text"].encode()).hexdigest(),
            "objective": {"metric": sweep.objective.metric, "limit": sweep.objective.limit},
            "cost": {"worker_hour": sweep.cost.worker_hour, "per_start": sweep.cost.per_start},
            "search": sweep.search.method, "replications": sweep.replications,
            "seeds": list(sweep.seeds), "axes": {a.path: list(a.values) for a in sweep.axes},
            "versions": _versions(), **extra}
    tmp = folder / "sweep.json.tmp"
    tmp.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    tmp.replace(folder / "sweep.json")


def _execute(ns: argparse.Namespace, sweep: Sweep, source: dict[str, Any], out: Path,
             done: dict[tuple[int, int], RunRecord]) -> int:
    try:
        executor = _executor(ns)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        folder = SweepFolder(out, sweep)
    except OSError as exc:
        return _fail(f"cannot write to {out}: {exc.strerror or exc}")
    total_points = sweep.search.budget if sweep.search.method != "grid" else sweep.grid_size
    began = time.time()
    _write_meta(out, sweep, source, {"status": "running", "executor": executor.name})
    progress = _Progress(total_points, enabled=not ns.quiet and sys.stderr.isatty())
    status, code, message = "complete", 0, ""
    try:
        with executor:
            for record in run_sweep(sweep, executor, done=done):
                if folder.add(record) is not None:
                    progress.point_done(folder.tasks)
    except KeyboardInterrupt:
        status, code = "interrupted", EXIT_INTERRUPTED
        message = f"interrupted: the finished runs are kept; queuelab sweep --resume {out}"
    except ClusterLost as exc:
        status, code = "cluster lost", EXIT_FAILED
        message = f"{exc}; the finished runs are kept: queuelab sweep --resume {out}"
    finally:
        progress.close()
        front = folder.close()
        wall = time.time() - began
        _write_meta(out, sweep, source, {
            "status": status, "executor": executor.name, "wall_seconds": round(wall, 3),
            "runs": folder.counts, "points": len(folder.points),
            "frontier": [p.number for p in front]})
    if message:
        print(f"queuelab sweep: {message}", file=sys.stderr)
    if not ns.quiet:
        print(f"{sweep.name}: {len(folder.points):,} points × {sweep.replications} seeds, "
              f"{folder.counts['ok']:,} runs ok, {folder.counts['invalid']:,} invalid, "
              f"{folder.counts['failed']:,} failed, in {wall:.1f} s on {executor.name}")
        if front:
            print(f"frontier ({len(front)} of {len(folder.points)} points; cost per run of "
                  f"{sweep.scenario.run.duration - sweep.scenario.run.warmup:g} s after the "
                  "warm-up):")
            print(frontier_table(sweep, front))
        print(verdict(sweep, folder.points))
        print(f"wrote {out}/runs.csv, points.csv, frontier.csv and sweep.json")
    return code


class _Progress:
    """One line on a terminal: points done, tasks simulated per second, time left."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total = total
        self.enabled = enabled
        self.done = 0
        self.began = time.perf_counter()
        self.shown_at = 0.0

    def point_done(self, tasks: int) -> None:
        self.done += 1
        now = time.perf_counter()
        if not self.enabled or (now - self.shown_at < PROGRESS_EVERY and self.done < self.total):
            return
        self.shown_at = now
        elapsed = now - self.began
        frac = self.done / self.total if self.total else 1.0
        left = elapsed / frac - elapsed if frac > 0 else float("inf")
        bar = "#" * int(30 * frac)
        sys.stderr.write(f"\r  [{bar:<30}] {self.done:,}/{self.total:,} points  "
                         f"{tasks / elapsed if elapsed else 0:,.0f} tasks/s  "
                         f"{left:,.0f} s left ")
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled and self.done:
            sys.stderr.write("\n")
