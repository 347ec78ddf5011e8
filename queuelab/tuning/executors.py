"""Where a sweep's runs execute: a local process pool, or a Dask cluster.

Both take `RunTask`s and hand back `(task, figures, reason)` as runs finish, keeping a
bounded window of runs in flight (memory does not grow with the sweep). Dask gets them a
few at a time (`run_batch`): each Dask task costs its scheduler some round trips. Neither knows
anything of sweeps: the local pool is `concurrent.futures` over every core, Dask is the
engine of a cluster and QueueLab only submits the one function that runs a point.

Faults: a run that raises is reported with its reason (never retried: the simulator is
deterministic, it would raise again). A worker process that dies takes the runs it held
with it; once the runs still in flight have finished, those are retried once each, alone,
and a run that kills its worker again is reported failed - on either executor (Dask is told
to give up on a run at its first lost worker, so that QueueLab's retry is the only one).
A lost Dask scheduler ends the sweep with `ClusterLost`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol

from queuelab.tuning.runner import RunTask

Runner = Callable[[RunTask], dict[str, Any]]
Outcome = tuple[RunTask, dict[str, Any] | None, str]  # (task, figures or None, why it failed)
WINDOW_PER_SLOT = 4  # runs in flight per worker: enough to never leave one idle
DIED = "the worker process died (twice)"
BATCH = 4  # runs per Dask task
BATCHES_PER_SLOT = 3  # Dask tasks in flight per worker thread
RECOMPUTING = ("lost", "pending")  # a Dask future whose result went down with its worker


class ClusterLost(RuntimeError):
    """The cluster went away mid-sweep; what finished before is kept."""


class Executor(Protocol):
    """Runs tasks somewhere and yields their outcomes as they finish."""

    name: str

    @property
    def slots(self) -> int: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(self, tasks: Iterator[RunTask], runner: Runner) -> Iterator[Outcome]: ...


def _ignore_interrupt(nice: int = 0) -> None:
    """Workers leave Ctrl-C to the parent, which stops the sweep and keeps what finished;
    with `nice`, they also yield the CPU to the parent's process (a window to keep live)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if nice and hasattr(os, "nice"):
        os.nice(nice)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class LocalPool:
    """A pool of worker processes on this machine, one per core by default.

    Processes are spawned, not forked: a fork of a process holding threads (a GUI's, a
    Dask client's) can deadlock, and spawn is what Windows and macOS do anyway.
    """

    name = "local"

    def __init__(self, workers: int | None = None, *, nice: int = 0) -> None:
        self._workers = workers or os.cpu_count() or 1
        self._nice = nice  # > 0: the workers run at a lower priority (POSIX nice)
        self._pool: ProcessPoolExecutor | None = None

    @property
    def slots(self) -> int:
        return self._workers

    def __enter__(self) -> LocalPool:
        self._pool = self._new_pool()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self._workers, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_ignore_interrupt, initargs=(self._nice,))

    def run(self, tasks: Iterator[RunTask], runner: Runner) -> Iterator[Outcome]:
        if self._pool is None:
            raise RuntimeError("use the pool in a with block")
        window = self._workers * WINDOW_PER_SLOT
        pending: dict[Future[dict[str, Any]], RunTask] = {}
        source = iter(tasks)
        exhausted = False
        while True:
            while not exhausted and len(pending) < window:
                task = next(source, None)
                if task is None:
                    exhausted = True
                    break
                pending[self._pool.submit(runner, task)] = task
            if not pending:
                return
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            suspects: list[RunTask] = []
            for future in finished:
                task = pending.pop(future)
                try:
                    yield task, future.result(), ""
                except BrokenProcessPool:
                    suspects.append(task)
                except Exception as exc:  # the run itself failed: report it, go on
                    yield task, None, _describe(exc)
            if suspects:  # every run still in flight went down with the pool
                suspects.extend(pending.values())
                pending.clear()
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = self._new_pool()
                yield from self._retry_alone(sorted(suspects, key=lambda t: (t.point, t.seed)),
                                             runner)

    def _retry_alone(self, suspects: list[RunTask], runner: Runner) -> Iterator[Outcome]:
        """Each run that was in flight when a worker died, once more with nothing beside it."""
        assert self._pool is not None
        for task in suspects:
            try:
                yield task, self._pool.submit(runner, task).result(), ""
            except BrokenProcessPool:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = self._new_pool()
                yield task, None, DIED
            except Exception as exc:
                yield task, None, _describe(exc)


def run_batch(runner: Runner, batch: list[RunTask]) -> list[tuple[dict[str, Any] | None, str]]:
    """Several runs in one Dask task (a task costs the scheduler a few round trips), each
    with its figures or why it failed."""
    out: list[tuple[dict[str, Any] | None, str]] = []
    for task in batch:
        try:
            out.append((runner(task), ""))
        except Exception as exc:  # this run failed: the others in the batch go on
            out.append((None, _describe(exc)))
    return out


def as_completed_one(future: Any) -> Any:
    """An iterator over one Dask future, yielding it once it is done (or lost)."""
    from distributed import as_completed

    return as_completed([future])


class DaskCluster:
    """A Dask distributed cluster: a LocalCluster of our own, or one at `address`.

    Needs `dask[distributed]` (`pip install queuelab[cluster]`). Every machine of a remote
    cluster needs the same QueueLab installed: the results are then the same bytes as a
    local run's.
    """

    name = "dask"

    def __init__(self, address: str | None = None, *, workers: int | None = None,
                 connect_timeout: float = 5.0) -> None:
        self.address = address
        self._workers = workers or os.cpu_count() or 1
        self._timeout = connect_timeout
        self._client: Any = None
        self._cluster: Any = None
        self._config: Any = None

    @property
    def slots(self) -> int:
        if self._client is None:
            return self._workers
        return max(1, sum(self._client.nthreads().values()))

    def __enter__(self) -> DaskCluster:
        try:
            import dask
            from distributed import Client, LocalCluster
        except ImportError:
            raise ClusterLost("Dask is not installed: pip install 'queuelab[cluster]'") from None
        # a run lost with its worker comes back as KilledWorker at once; `run` retries it
        # alone, as the local pool does (a remote scheduler keeps its own allowed-failures)
        self._config = dask.config.set({"distributed.scheduler.allowed-failures": 0})
        self._config.__enter__()
        try:
            if self.address is None:
                self._cluster = LocalCluster(n_workers=self._workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None,
                                             silence_logs=logging.ERROR)
                self._client = Client(self._cluster)
            else:
                self._client = Client(self.address, timeout=self._timeout)
        except (OSError, TimeoutError) as exc:
            self.__exit__()
            raise ClusterLost(f"cannot reach the Dask scheduler at {self.address}: "
                              f"{_describe(exc)}") from None
        return self

    def __exit__(self, *exc: object) -> None:
        for closing in (self._client, self._cluster):
            if closing is not None:
                with contextlib.suppress(Exception):  # a lost scheduler refuses the goodbye
                    closing.close()
        self._client = self._cluster = None
        if self._config is not None:
            self._config.__exit__(None, None, None)
            self._config = None

    def run(self, tasks: Iterator[RunTask], runner: Runner) -> Iterator[Outcome]:
        from distributed import as_completed

        if self._client is None:
            raise RuntimeError("use the cluster in a with block")
        window = self.slots * BATCHES_PER_SLOT
        source = iter(tasks)
        owner: dict[str, list[RunTask]] = {}
        flow = as_completed()
        exhausted = False

        def feed() -> None:
            nonlocal exhausted
            while not exhausted and len(owner) < window:
                batch = list(itertools.islice(source, BATCH))
                if len(batch) < BATCH:
                    exhausted = True
                if batch:
                    future = self._submit(runner, batch)
                    owner[future.key] = batch
                    flow.add(future)

        feed()
        suspects: list[RunTask] = []
        while owner:
            future = self._next(flow)
            batch = owner.pop(future.key)
            if future.status == "finished":
                for task, (figures, reason) in zip(batch, self._result(future), strict=True):
                    yield task, figures, reason
            elif future.status in RECOMPUTING:
                owner[future.key] = batch  # its result died with a worker: Dask runs it again
                flow.add(future)
                continue
            elif future.status != "error":
                raise self._lost()
            elif (reason := self._reason(future)) == DIED:
                suspects.extend(batch)  # one of them, or a run beside them, killed the worker
            else:
                yield from ((task, None, reason) for task in batch)
            if suspects and owner:
                continue  # let the runs in flight finish, then retry the suspects alone
            if suspects:
                yield from self._retry_alone(suspects, runner)
                suspects = []
            feed()

    def _retry_alone(self, suspects: list[RunTask], runner: Runner) -> Iterator[Outcome]:
        for task in sorted(suspects, key=lambda t: (t.point, t.seed)):
            future = self._submit(runner, [task])
            self._next(as_completed_one(future))
            while future.status in RECOMPUTING:
                self._next(as_completed_one(future))
            if future.status == "finished":
                figures, reason = self._result(future)[0]
                yield task, figures, reason
            elif future.status == "error":
                yield task, None, self._reason(future)
            else:
                raise self._lost()

    def _submit(self, runner: Runner, batch: list[RunTask]) -> Any:
        try:
            return self._client.submit(run_batch, runner, batch, pure=False)
        except Exception:  # the client refuses once the scheduler is gone
            raise self._lost() from None

    def _next(self, flow: Any) -> Any:
        try:
            return next(flow)
        except Exception:
            raise self._lost() from None

    def _result(self, future: Any) -> list[tuple[dict[str, Any] | None, str]]:
        try:
            return list(future.result())
        except Exception:
            raise self._lost() from None

    def _reason(self, future: Any) -> str:
        try:
            exc = future.exception()
        except Exception:
            raise self._lost() from None
        if type(exc).__name__ == "KilledWorker":
            return DIED
        return _describe(exc) if isinstance(exc, BaseException) else str(exc)

    def _lost(self) -> ClusterLost:
        where = self.address or "the local Dask cluster"
        return ClusterLost(f"lost the Dask scheduler at {where}: the sweep stops here")
