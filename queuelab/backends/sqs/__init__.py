"""`sqs://`: the TaskQueue on Amazon SQS through aiobotocore (the AWS CLI's botocore, async).

    sqs://jobs?region=eu-west-1&endpoint=http://127.0.0.1:5000&discipline=priority

How each rule of the contract maps onto SQS (`queue.py` has the details):
* Lease = the visibility timeout of the receive (whole seconds, 1 s .. 12 h); `extend` is
  ChangeMessageVisibility. Ack = DeleteMessage, `ack_many` = DeleteMessageBatch.
* Claims are ReceiveMessage with SQS's maximum of 10 messages a call (looped for more), and a
  waiting claim long-polls (WaitTimeSeconds = `wait`, 1 s by default, so several queues are
  looked at in turn).
* Retries: a message's body cannot change, so a nack sends the task as it is now (with its
  history) with a per-message delay (DelaySeconds, whole seconds) and deletes the claimed
  message. SQS delays at most 900 s: a longer delay is sent as 900 s with the due time in a
  message attribute, and a claim that receives it early sends it again with the rest.
* Discipline fifo: a `.fifo` queue, each task its own message group (one group would let one
  worker at a time have work); delayed tasks wait in a standard queue beside it, since FIFO
  queues refuse per-message delays. Discipline priority: one standard queue per level
  (`levels`, default 10, priorities clamped), polled highest first. Within a standard queue
  SQS orders only roughly; a local SQS server (moto) keeps send order.
* Dead letters: QueueLab's own dead-letter queue, not a redrive policy (`dead.py` says why).
* Counts are SQS's approximate attributes (exact on moto and on a quiet queue).
* Unknown queues are created on first use (14 days' retention); an existing queue is used
  as it is. Credentials come from the AWS chain, never from the URL.

What SQS cannot promise, declared in the contract suite's spec: leases and delays only to
the second; order only roughly outside moto; a peek is a receive (counted back here, but a
peek in another process counts as an attempt there); purge once a minute per queue.
"""

from __future__ import annotations

from typing import Any

from queuelab.backends.base import BackendError
from queuelab.core.urls import redact_url

from .options import parse
from .queue import SqsQueue

__all__ = ["SqsQueue", "from_url"]


def from_url(url: str, **options: Any) -> SqsQueue:
    """A not-yet-connected queue for `url` (connects on `open()` or first use)."""
    if url.partition("://")[0].lower() != "sqs":
        raise BackendError(f"not an sqs:// URL: {redact_url(url)!r}")
    return SqsQueue(redact_url(url), parse(url, options))
