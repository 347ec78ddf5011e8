"""The dead-letter queue as the dead-letter pane needs it: read, paged, moved, deleted.

SQS cannot list or search a queue; it can only hand messages out. So the index receives
every dead letter with a visibility timeout of `hold` seconds and keeps them (with their
receipts) in memory for paging, reprocess and discard; a held message that nears the end
of its hold is dropped from the index and read again at the next look. One index per queue
and process, shared by its handles. While this process holds them, another process's index
does not see them (for up to `hold` seconds): SQS has no other way to read a queue.

Why QueueLab's own dead-letter queue and not SQS's redrive policy: the engine decides that a
task is dead (attempts spent, a poison task, a refusal) and the dead letter must carry the
error kind, the message and the attempt history. A redrive policy moves a message after
`maxReceiveCount` receives with its old body and no error, and counts receives that were not
attempts (a retry is a new message, so its count starts again).
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from queuelab.core.dead_letter_query import page_of
from queuelab.core.task import DeadLetter, DeadLetterPage, DeadLetterQuery, Task

from .link import Link, SqsError

_MARGIN = 2.0  # s before a hold ends at which the index lets a message go


@dataclass(slots=True)
class _Held:
    dead: DeadLetter
    handle: str
    until: float  # wall-clock second the hold ends


def encode_dead(dead: DeadLetter) -> str:
    return json.dumps(dead.to_dict(), separators=(",", ":"), allow_nan=False)


def decode_dead(body: str, message_id: str) -> DeadLetter:
    """A dead letter from the queue, whatever put it there (a task or a foreign message)."""
    try:
        data = json.loads(body)
        if isinstance(data, dict) and "task" in data:
            return DeadLetter.from_dict(data)
        task = Task.from_dict(data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        task = Task(id=f"sqs:{message_id}", payload=body[:10_000])
        return DeadLetter(task, "UndecodableMessage", f"{type(exc).__name__}: {exc}", 0.0)
    return DeadLetter(task, "MovedBySqs", "moved here by SQS (a redrive policy)", 0.0)


class DeadIndex:
    """The dead letters this process holds, by SQS message id."""

    def __init__(self) -> None:
        self.held: dict[str, _Held] = {}

    def clear(self) -> None:
        self.held.clear()

    async def refresh(self, link: Link, url: str, hold: int) -> None:
        now = time.time()
        for key in [k for k, h in self.held.items() if h.until < now + _MARGIN]:
            del self.held[key]
        while True:
            got = await link.call(
                "read dead letters",
                "receive_message",
                QueueUrl=url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=hold,
                WaitTimeSeconds=0,
            )
            messages = got.get("Messages", [])
            until = time.time() + hold
            for m in messages:
                self.held[m["MessageId"]] = _Held(
                    decode_dead(m["Body"], m["MessageId"]), m["ReceiptHandle"], until
                )
            if not messages:
                return

    def letters(self) -> list[DeadLetter]:
        return sorted((h.dead for h in self.held.values()), key=lambda d: d.dead_lettered_at)

    def page(self, query: DeadLetterQuery) -> DeadLetterPage:
        return page_of(self.letters(), query)

    def get(self, task_id: str) -> DeadLetter | None:
        found = [h.dead for h in self.held.values() if h.dead.task.id == task_id]
        return max(found, key=lambda d: d.dead_lettered_at) if found else None

    async def remove(
        self,
        link: Link,
        url: str,
        task_ids: Sequence[str],
        before: Callable[[DeadLetter], Awaitable[None]] | None = None,
    ) -> int:
        """Delete the dead letters of `task_ids` (after `before(dead)` for each task, which
        sends it back when reprocessing); returns how many tasks were removed. A crash
        between the two leaves the task both back and still dead: at-least-once."""
        moved = 0
        for task_id in dict.fromkeys(task_ids):
            keys = [k for k, h in self.held.items() if h.dead.task.id == task_id]
            if not keys:
                continue
            latest = max(keys, key=lambda k: self.held[k].dead.dead_lettered_at)
            if before is not None:
                await before(self.held[latest].dead)
            for key in keys:
                held = self.held.pop(key)
                try:
                    await link.call(
                        "delete a dead letter", "delete_message",
                        QueueUrl=url, ReceiptHandle=held.handle,
                    )  # fmt: skip
                except SqsError:
                    self.held[key] = held
                    raise
            moved += 1
        return moved
