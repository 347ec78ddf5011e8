"""Tasks and dead letters as AMQP messages, and what this process remembers about them.

Body: `Task.to_json()` (a dead letter: `DeadLetter.to_dict()` as JSON), persistent
(delivery_mode 2), `content_type` application/json, `type` naming which of the two it is, and
a `message_id` unique to each publish. A task's `attempts` travels in its JSON.

A dead letter also says, in two headers, its task's id and how many bytes the task's JSON
takes at the start of the body (`{"task":` comes first, then exactly `Task.to_json()`), and
carries the task's AMQP priority. A bulk reprocess then needs no JSON at all: it indexes the
dead letters by the header, checks the body's first bytes name the same task
(`task_json_end`), and republishes the task's bytes as they are. Dead letters without the
headers (written before them, or dead-lettered by the broker) are decoded as before.

Attempts and redelivery. Classic queues keep no delivery count (`x-delivery-count` exists
only on quorum queues, which have no priorities before RabbitMQ 4.0), and the broker only
says `redelivered`: "this message may have been delivered before". So a redelivered message
counts one abandoned attempt - the claim whose holder vanished - on top of its JSON. This
process knows better for the messages it held itself, and `Redeliveries` keeps that
knowledge by message id: a message only prefetched (never claimed) and given back counts
none, one abandoned twice here counts two, and a message whose ack may have been lost with
the connection (settled here, then redelivered) is recognised and dropped instead of being
handled twice. Across processes the flag is all there is: documented as at-least-once.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import OrderedDict

from aiormq import spec
from pamqp.common import FieldTable

from queuelab.core.task import DeadLetter, Task, UndecodableTask, loads
from queuelab.core.undecodable import undecodable

TASK_TYPE = "queuelab.task"
TASK_ID_HEADER = "queuelab-task-id"
TASK_BYTES_HEADER = "queuelab-task-bytes"
_ID_HEADER_LIMIT = 1000  # bytes of task id put in a header (a header frame is bounded)
_TASK_FIRST = b'{"task":'  # a dead letter's body begins so, the task's JSON follows ...
_AFTER_TASK = b',"error_kind":'  # ... and this after it (DeadLetter.to_dict's order)
TASK_JSON_START = len(_TASK_FIRST)
DEAD_TYPE = "queuelab.dead_letter"
_JSON = "application/json"
_PERSISTENT = 2

#: message ids are this prefix (random per process) and a counter: unique without uuid cost
_PREFIX = os.urandom(6).hex()
_COUNTER = itertools.count(1)


def new_message_id() -> str:
    return f"{_PREFIX}.{next(_COUNTER)}"


def task_properties(message_id: str, priority: int | None) -> spec.Basic.Properties:
    return spec.Basic.Properties(
        content_type=_JSON,
        delivery_mode=_PERSISTENT,
        message_id=message_id,
        priority=priority,
        message_type=TASK_TYPE,
    )


def dead_properties(
    message_id: str, dead: DeadLetter | None = None, task_bytes: int = 0,
    priority: int | None = None,
) -> spec.Basic.Properties:
    """A dead letter's properties; given the dead letter and its task's JSON length (from
    `dead_message`), the headers a bulk reprocess reads instead of the body."""
    headers: FieldTable | None = None
    if dead is not None and task_bytes and len(dead.id.encode()) <= _ID_HEADER_LIMIT:
        headers = {TASK_ID_HEADER: dead.id, TASK_BYTES_HEADER: task_bytes}
    return spec.Basic.Properties(
        content_type=_JSON,
        delivery_mode=_PERSISTENT,
        message_id=message_id,
        message_type=DEAD_TYPE,
        headers=headers,
        priority=priority,
    )


def dead_message(dead: DeadLetter) -> tuple[bytes, int]:
    """The body of `dead` (exactly `DeadLetter.to_dict()` as compact JSON: task first) and
    how many bytes its task's JSON takes after the leading `{"task":`."""
    task = dead.task.to_json().encode()
    rest = dead.to_dict()
    del rest["task"]
    tail = json.dumps(rest, separators=(",", ":"), allow_nan=False).encode()
    return b"".join((_TASK_FIRST, task, b",", tail[1:])), len(task)


def encode_dead(dead: DeadLetter) -> bytes:
    return dead_message(dead)[0]


def headed_task_id(headers: FieldTable | None) -> tuple[str, int] | None:
    """The task id and task JSON length a dead letter's headers give, if they give both."""
    if not headers:
        return None
    task_id, size = headers.get(TASK_ID_HEADER), headers.get(TASK_BYTES_HEADER)
    if type(task_id) is not str or not task_id or type(size) is not int or size < 2:
        return None
    return task_id, size


def task_json_end(body: bytes, task_id: str, size: int) -> int:
    """Where the task's JSON ends in a dead letter's body (it starts at 8), or 0 if the body
    does not read as the headers say: a task object of that id, of that length, followed by
    the error. Then the body must be decoded instead."""
    end = len(_TASK_FIRST) + size
    start = b'{"task":{"id":' + json.dumps(task_id).encode() + b","
    if (
        body.startswith(start)
        and body[end - 1:end] == b"}"
        and body.startswith(_AFTER_TASK, end)
        and body.endswith(b"}")
    ):
        return end
    return 0


def decode_dead(body: bytes, message_id: str | None, headers: dict | None) -> DeadLetter:
    """A dead letter from the DLQ, whatever put it there.

    Ours carry a DeadLetter body. A task body means the broker dead-lettered the message
    itself (another client rejected it, or our consumer refused a body that is not a task):
    its `x-death` reason becomes the error. Anything else is an `UndecodableTask` dead
    letter (`core.undecodable`), so it can still be seen and discarded.
    """
    try:
        data = loads(body)
        if isinstance(data, dict) and "task" in data:
            return DeadLetter.from_dict(data)
        task = Task.from_dict(data)
    except UndecodableTask as exc:
        return undecodable(body, f"amqp:{message_id or 'no-id'}", exc)
    reason = "rejected"
    deaths = (headers or {}).get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        reason = str(deaths[0].get("reason", reason))
    return DeadLetter(task, "BrokerDeadLettered", f"dead-lettered by the broker ({reason})", 0.0)


class Redeliveries:
    """What this process knows about messages it gave back or settled (bounded memory).

    `extra[id]`: attempts the message has seen since it was published, beyond its JSON (a
    claim abandoned here counts one; a message only prefetched counts none).
    `settled`: ids acked here whose ack may not have reached the broker before a drop.
    `republished`: ids published again after a lost confirm (True once a copy was seen), so
    a second copy is recognised.
    """

    LIMIT = 100_000

    def __init__(self) -> None:
        self.extra: OrderedDict[str, int] = OrderedDict()
        self.settled: OrderedDict[str, None] = OrderedDict()
        self.republished: OrderedDict[str, bool] = OrderedDict()

    def gave_back(self, message_id: str, extra: int) -> None:
        if not message_id:  # a foreign message without an id: nothing to recognise it by
            return
        self.extra[message_id] = extra
        if len(self.extra) > self.LIMIT:
            self.extra.popitem(last=False)

    def extra_on_redelivery(self, message_id: str) -> int:
        """Abandoned attempts to count for a redelivered message (the flag says >= 0)."""
        known = self.extra.pop(message_id, None)
        return 1 if known is None else known

    def settle(self, message_id: str) -> None:
        if not message_id:
            return
        settled = self.settled
        settled[message_id] = None
        if len(settled) > self.LIMIT:
            settled.popitem(last=False)

    def republishing(self, message_id: str) -> None:
        self.republished.setdefault(message_id, False)
        if len(self.republished) > self.LIMIT:
            self.republished.popitem(last=False)

    def is_duplicate(self, message_id: str, redelivered: bool) -> bool:
        """True for a message this process must not hand out again (see the class doc)."""
        if not message_id:
            return False
        if redelivered and message_id in self.settled:
            return True
        republished = self.republished
        if republished and message_id in republished:
            if republished[message_id] and not redelivered:  # a second first delivery
                return True
            republished[message_id] = True
        return False


#: one per process: any handle may receive what another handle gave back
REDELIVERIES = Redeliveries()
