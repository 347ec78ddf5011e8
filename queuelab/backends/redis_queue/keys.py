"""Where one queue lives in Redis: a dozen keys under `queuelab:{name}:`.

The `{name}` braces are a Redis Cluster hash tag: every key of a queue hashes to one slot,
so each Lua script may touch all of them on a cluster too. A queue's tasks sit in:

* `tasks`    hash  id -> task JSON, for every task that is ready, delayed or leased
* `attempts` hash  id -> attempts so far (Lua increments it; JSON is never re-encoded there)
* `prio`     hash  id -> priority, priority queues only, non-zero priorities only
* `ready`    zset  claimable now, in claim order (see `scripts.py` for the encoding)
* `delayed`  zset  id scored by the wall-clock second it becomes ready
* `leased`   zset  id scored by its lease deadline; `tokens` hash id -> the lease's token
* `dead`     hash  id -> DeadLetter JSON; `dead_at` zset id by dead_lettered_at (paging);
                   `dead_kinds` hash error kind -> how many (the pane's kind filter)
* `seq`      counter giving each task its place when it becomes ready
* `lanes`    hash  a holder's recent operation per lane, to replay rather than repeat
* `meta`     hash  the discipline fixed by the first task it received

and its wake-ups travel on the pub/sub channel `queuelab:{name}:wake`.
"""

from __future__ import annotations

from dataclasses import dataclass

from queuelab.backends.base import BackendError

NAMES = (
    "tasks", "attempts", "prio", "ready", "delayed", "leased", "tokens",
    "dead", "dead_at", "dead_kinds", "seq", "lanes", "meta",
)  # fmt: skip


@dataclass(frozen=True)
class QueueKeys:
    """The key names of one queue, and the key tuples each script is called with."""

    name: str

    def __post_init__(self) -> None:
        if not self.name or any(ch in self.name for ch in "{}") or not self.name.isprintable():
            raise BackendError(
                f"redis:// queue name {self.name!r} is not usable: it must be non-empty, "
                "printable and free of braces"
            )

    @property
    def prefix(self) -> str:
        return f"queuelab:{{{self.name}}}:"

    @property
    def channel(self) -> str:
        return self.prefix + "wake"

    def key(self, what: str) -> str:
        return self.prefix + what

    def of(self, names: tuple[str, ...]) -> tuple[str, ...]:
        """The full key names for a script's `keys`."""
        return tuple(self.prefix + n for n in names)

    def all(self) -> tuple[str, ...]:
        return self.of(NAMES)
