"""`amqp://` and `amqps://`: the TaskQueue on RabbitMQ through aio-pika, the way RabbitMQ's
documentation recommends using it for work queues.

    amqp://guest:guest@127.0.0.1:5672/?queue=jobs&discipline=priority&prefetch=100

* A durable queue and persistent messages (the task's JSON); publisher confirms on every
  publish - `enqueue` waits for its own (once it returns, the task is in the queue; RabbitMQ's
  slowest confirm strategy, about one disk sync per task), `enqueue_many` streams up to 1000
  before waiting; manual acks after the work is done (at-least-once: a consumer that dies mid-task
  loses nothing).
* Prefetch (basic.qos) bounds what this client holds unacked, leased plus buffered, and
  `set_prefetch` changes it while running (`consumer.py`).
* discipline=priority: `x-max-priority` 9; task priorities map onto AMQP levels 0..9
  (clamped). Tasks already prefetched are ordered locally by the same rule; a higher-priority
  task published while the prefetch window is full waits for a free slot - RabbitMQ's own
  advice: keep prefetch low where priorities matter.
* Delays (nack with a delay, enqueue with a delay) without plugins: a ladder of TTL queues
  dead-lettering into each other, exact to 10 ms (`topology.py`).
* Dead letters: a dead-letter exchange and queue; read, paged, reprocessed and discarded
  through an in-process index over the held DLQ messages, moves as AMQP transactions
  (`dead.py`).
* Leases end when the holder's channel closes (the broker requeues), and in a live process
  also by time (`consumer.py`); redelivered messages count the abandoned attempt (`wire.py`).
* Counts: ready and delayed from queue.declare, this process's leases from its own handles.
  A process that does not consume the queue (a monitor, the app before a run) adds the
  leases other processes hold from the management API (`management.py`, option
  `management_port`, 15672 by default, 0 to not ask), whose figures lag a few seconds.
* aio-pika's robust connection (what `connect_robust` makes) reconnects after a drop; held
  deliveries of the old connection are void (`LeaseLost`), publishes are retried or reported
  (`link.py`).
"""

from __future__ import annotations

from typing import Any

from queuelab.backends import redact_url
from queuelab.backends.base import BackendError

from .options import parse
from .queue import AmqpQueue

__all__ = ["AmqpQueue", "from_url"]


def from_url(url: str, **options: Any) -> AmqpQueue:
    """A not-yet-connected queue for `url` (connects on `open()` or first use)."""
    scheme = url.partition("://")[0].lower()
    if scheme not in ("amqp", "amqps"):
        raise BackendError(f"not an AMQP URL: {redact_url(url)!r}")
    connection_url, opts = parse(url, options)
    return AmqpQueue(connection_url, redact_url(url), opts)
