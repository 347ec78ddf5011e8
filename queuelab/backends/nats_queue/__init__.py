"""`nats://`: the TaskQueue on NATS JetStream through nats-py.

    nats://127.0.0.1:4222?queue=jobs&discipline=priority&ack_wait=30

How each rule of the contract maps onto JetStream (`queue.py` has the details):
* A work-queue stream per QueueLab queue (`WorkQueuePolicy`: a message is gone once acked),
  one durable pull consumer per subject with explicit acks.
* Lease = AckWait (`ack_wait`, the consumer's), extended by in-progress acks: a heartbeat
  keeps each claim's own lease while its holder lives; `extend` sends one at once.
* Retries: a message cannot change, so a nack publishes the task as it is now (its history)
  and acks the claimed one; a delay travels as a header, and a delivery before the task is
  due is handed back with NakWithDelay for the rest of the delay.
* Priority: one subject per level (`levels`, default 10), pulled highest first.
* Dead letters: a dead-letter stream beside the work stream, holding QueueLab's dead
  letters and catching JetStream's MaxDeliver advisories (`max_deliver` deliveries without
  an ack, e.g. a task that kills its worker every time): such a message is moved there.
* nats-py reconnects by itself; publishes are tried again through a reconnection for up to
  `reconnect_timeout` seconds, each with one `Nats-Msg-Id` across its tries, so a retry
  after a lost PubAck is dropped by the stream's duplicate window (widened to cover
  `reconnect_timeout`) instead of storing the task twice; a held task whose ack was lost
  returns after AckWait.

What JetStream cannot promise, declared in the contract suite's spec: counts split held from
delayed tasks only by what this process knows (JetStream counts both as unacknowledged); a
peek skips the tasks this process holds, not those another process holds.
"""

from __future__ import annotations

from typing import Any

from queuelab.backends.base import BackendError
from queuelab.core.urls import redact_url

from .options import parse
from .queue import NatsQueue

__all__ = ["NatsQueue", "from_url"]


def from_url(url: str, **options: Any) -> NatsQueue:
    """A not-yet-connected queue for `url` (connects on `open()` or first use)."""
    if url.partition("://")[0].lower() not in ("nats", "tls"):
        raise BackendError(f"not a nats:// URL: {redact_url(url)!r}")
    server, opts = parse(url, options)
    return NatsQueue(server, redact_url(url), opts)
