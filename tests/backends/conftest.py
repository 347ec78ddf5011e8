"""Which URLs the contract suite runs against, and how the tests pick theirs.

To add a backend: append its `BackendSpec`s to `BACKENDS` (with the marks its server needs
and the granularities it can honour), then create `test_<backend>.py` with a subclass of
`QueueContract` whose `backend` names it. Nothing else changes.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from queuelab.backends import open_queue
from queuelab.backends.base import TaskQueue

from ..services import needs
from .contract import CONTRACT_CLOCK, BackendSpec
from .sqs_server import free_port, moto_sqs

#: this test run's tag in server-side names: runs sharing a server never meet
RUN = f"{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class SharedServerSpec(BackendSpec):
    """A spec for a server other test runs may share: each test opens a queue named after
    itself and this run (the `queue` option), which the suite purges before and after."""

    def open(self) -> TaskQueue:
        test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" (", 1)[0]
        tag = hashlib.sha1(test.encode()).hexdigest()[:10]
        return open_queue(self.url, queue=f"{self.id}-{RUN}-{tag}", **self.options)


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
    SharedServerSpec(
        "redis",
        "redis://127.0.0.1:6379/0",
        id="redis-fifo",
        lease_granularity=0.5,
        delay_granularity=0.5,
        wake_latency=0.5,
        marks=needs("redis"),
    ),
    SharedServerSpec(
        "redis",
        "redis://127.0.0.1:6379/0?discipline=priority",
        id="redis-priority",
        discipline="priority",
        lease_granularity=0.5,
        delay_granularity=0.5,
        wake_latency=0.5,
        marks=needs("redis"),
    ),
]


# --- SQL (queuelab.backends.sql) ------------------------------------------------------
#: SQLite: a file of this run's own, removed at exit. PostgreSQL: the `test` database, a
#: queue per test (SharedServerSpec); FIFO on the real clock and priority on the suite's
#: fake clock, so both the sleeping and the clock-jumping paths of the backend run.
SQLITE_FILE = Path(tempfile.gettempdir()) / f"queuelab-contract-{RUN}.sqlite3"
atexit.register(
    lambda: [Path(f"{SQLITE_FILE}{end}").unlink(missing_ok=True) for end in ("", "-wal", "-shm")]
)
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "disruptive: restarts or cuts a shared server (deselect: -m 'not disruptive')"
    )


BACKENDS += [
    BackendSpec(
        "sqlite", f"sqlite:///{SQLITE_FILE}?queue=contract-fifo", id="sqlite-fifo", fake_clock=True
    ),
    BackendSpec(
        "sqlite",
        f"sqlite:///{SQLITE_FILE}?queue=contract-priority&discipline=priority",
        id="sqlite-priority",
        discipline="priority",
        fake_clock=True,
    ),
    SharedServerSpec(
        "postgresql",
        POSTGRES_URL,
        id="postgresql-fifo",
        lease_granularity=0.5,
        delay_granularity=0.5,
        wake_latency=0.5,
        marks=needs("postgres"),
    ),
    SharedServerSpec(
        "postgresql",
        f"{POSTGRES_URL}?discipline=priority",
        id="postgresql-priority",
        discipline="priority",
        fake_clock=True,
        options={"clock": CONTRACT_CLOCK},
        marks=needs("postgres"),
    ),
]

# --- RabbitMQ (queuelab.backends.amqp) -------------------------------------------------
#: A queue per test (SharedServerSpec); test_amqp_contract.py deletes its broker objects
#: afterwards. A lease ends when its holder's connection closes (the suite closes it to play
#: the crash); delays are exact to 10 ms, so 0.2 s is honoured with room to spare.
AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"

BACKENDS += [
    SharedServerSpec(
        "amqp",
        AMQP_URL,
        id="amqp-fifo",
        lease_expiry="disconnect",
        delay_granularity=0.2,
        wake_latency=0.5,
        marks=needs("rabbitmq"),
    ),
    SharedServerSpec(
        "amqp",
        f"{AMQP_URL}?discipline=priority",
        id="amqp-priority",
        discipline="priority",
        lease_expiry="disconnect",
        delay_granularity=0.2,
        wake_latency=0.5,
        marks=needs("rabbitmq"),
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


# --- SQS (queuelab.backends.sqs) ------------------------------------------------------
#: A real local SQS server (moto's server mode, `sqs_server.py`) on a port chosen now and
#: started by the session fixture `sqs_endpoint`; a queue per test (SharedServerSpec).
#: SQS counts leases and delays in whole seconds, and a waiting claim long-polls one queue
#: for a second at a time while it looks at the others in turn. moto answers in time that
#: grows with the queue's length, so the many-worker tests use 200 tasks.
SQS_PORT = free_port()
SQS_URL = f"sqs://contract?region=us-east-1&endpoint=http://127.0.0.1:{SQS_PORT}"

BACKENDS += [
    SharedServerSpec("sqs", SQS_URL, id="sqs-fifo", wake_latency=1.5, load_tasks=200,
                     batch_cap=10),
    SharedServerSpec(
        "sqs", f"{SQS_URL}&discipline=priority", id="sqs-priority", discipline="priority",
        wake_latency=1.5, load_tasks=200, batch_cap=10,
    ),
]


@pytest.fixture(scope="session")
def sqs_endpoint() -> Iterator[str]:
    """The local SQS server's endpoint, started once for the session and stopped after."""
    with moto_sqs(SQS_PORT) as endpoint:
        yield endpoint


# --- NATS JetStream (queuelab.backends.nats_queue) -----------------------------------------
#: The shared server on 127.0.0.1:4222; a queue (two streams) per test, deleted after. The
#: consumers' AckWait is 1 s here, so a dead worker's lease ends by time within a second.
NATS_URL = "nats://127.0.0.1:4222?ack_wait=1"

BACKENDS += [
    SharedServerSpec("nats", NATS_URL, id="nats-fifo", wake_latency=0.5, marks=needs("nats")),
    SharedServerSpec(
        "nats", f"{NATS_URL}&discipline=priority", id="nats-priority", discipline="priority",
        wake_latency=0.5, marks=needs("nats"),
    ),
]
