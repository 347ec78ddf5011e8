"""A stored body that is not a task becomes a dead letter, never a crash.

Anyone who can write to a queue's server can leave a body QueueLab cannot decode: not JSON,
or JSON of another shape (`null`, a list, no id, a priority that is not a number ...). A
worker that claimed it and crashed would leave it leased, and every restart would crash on
it again. Instead the backend that claimed it dead-letters it at once under the error kind
`UNDECODABLE`, with a stand-in task carrying the raw body (bounded) for the dead-letter
pane, and hands its claimer the tasks that did decode.

The stand-in is an ordinary task, so every backend stores, lists, reprocesses and discards
it as any other dead letter; reprocessed, it runs with the raw text as its payload.
Backends do not know the run's scenario time, so it is dead-lettered "at" 0.
"""

from __future__ import annotations

from queuelab.core.task import UNDECODABLE, DeadLetter, Task, UndecodableTask

RAW_LIMIT = 4096
"""Characters of an undecodable body kept for the pane: enough to recognise it, bounded
because the body may be huge."""


def raw_text(raw: str | bytes) -> tuple[str, int]:
    """The body as text for a person (bad bytes replaced), cut to `RAW_LIMIT`, and its size
    in bytes."""
    data = raw if isinstance(raw, bytes) else raw.encode("utf-8", "surrogatepass")
    text = data[: RAW_LIMIT * 4].decode("utf-8", "replace")
    if len(text) > RAW_LIMIT or len(data) > RAW_LIMIT * 4:
        text = text[:RAW_LIMIT] + "…"
    return text, len(data)


def stand_in(raw: str | bytes, task_id: str) -> Task:
    """The task that carries an undecodable body under the id its server keeps it by."""
    text, size = raw_text(raw)
    return Task(id=task_id or "?", payload={"raw": text, "bytes": size})


def undecodable(raw: str | bytes, task_id: str, why: UndecodableTask | str) -> DeadLetter:
    """The dead letter of an undecodable body: its stand-in, the error kind and why."""
    return DeadLetter(stand_in(raw, task_id), UNDECODABLE, f"not a task: {why}", 0.0)


def try_decode(raw: str | bytes) -> Task | UndecodableTask:
    """The task a body holds, or the reason it holds none (never raises)."""
    try:
        return Task.from_json(raw)
    except UndecodableTask as exc:
        return exc
