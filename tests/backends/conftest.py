"""Which URLs the contract suite runs against, and how the tests pick theirs.

To add a backend: append its `BackendSpec`s to `BACKENDS` (with the marks its server needs
and the granularities it can honour), then create `test_<backend>.py` with a subclass of
`QueueContract` whose `backend` names it. Nothing else changes.
"""

from __future__ import annotations

import pytest

from .contract import BackendSpec

BACKENDS: list[BackendSpec] = [
    BackendSpec(
        "memory", "memory://contract-fifo", id="memory-fifo", fake_clock=True, wake_latency=0.5
    ),
    BackendSpec(
        "memory",
        "memory://contract-priority?discipline=priority",
        id="memory-priority",
        discipline="priority",
        fake_clock=True,
        wake_latency=0.5,
    ),
]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each contract test once per spec of the class's backend."""
    if "spec" not in metafunc.fixturenames:
        return
    backend = getattr(metafunc.cls, "backend", None)
    specs = [s for s in BACKENDS if s.backend == backend]
    if not specs:
        raise pytest.UsageError(f"no BackendSpec in BACKENDS for backend {backend!r}")
    metafunc.parametrize("spec", [pytest.param(s, id=s.id, marks=s.marks) for s in specs])
