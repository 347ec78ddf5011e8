"""What a `nats://` URL may say, checked once, so a typo fails at open and not mid-run.

`nats://[user:password@]host:4222?queue=jobs&discipline=priority&ack_wait=30`
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from queuelab.backends.base import BackendError
from queuelab.core.urls import redact_url

DISCIPLINES = ("fifo", "priority")
OPTIONS = (
    "queue", "discipline", "levels", "ack_wait", "max_deliver", "wait", "connect_timeout",
    "reconnect_timeout",
)  # fmt: skip
#: a queue name becomes part of stream, consumer and subject names: plain characters only
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True, slots=True)
class NatsOptions:
    """Every knob of the NATS backend, validated."""

    queue: str = "default"
    discipline: str = "fifo"
    levels: int = 10  # priority subjects per queue (priorities clamp to 0..levels-1)
    ack_wait: float = 30.0  # s: the consumers' AckWait, how soon a dead worker's task returns
    max_deliver: int = 25  # deliveries before JetStream gives up on a message (then: DLQ)
    wait: float = 1.0  # s of one waiting pull (0.2 at most with several priority subjects,
    # which are looked at in turn: a waiting pull covers one subject)
    connect_timeout: float = 3.0
    reconnect_timeout: float = 30.0  # s an operation keeps trying through a reconnection

    @property
    def priority(self) -> bool:
        return self.discipline == "priority"


def parse(url: str, options: dict[str, Any]) -> tuple[str, NatsOptions]:
    """The server URL for nats-py (our options removed) and our validated options."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise BackendError(
            f"nats:// does not know the option(s) {', '.join(unknown)}; "
            f"it knows {', '.join(OPTIONS)}"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise BackendError(f"not a valid nats:// URL: {redact_url(url)!r} ({exc})") from None
    if not parts.hostname:
        raise BackendError(f"nats:// needs a host, e.g. nats://127.0.0.1:4222 ({redact_url(url)})")
    server = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    queue = str(options.get("queue") or "default")
    if not _NAME.match(queue):
        raise BackendError(f"nats:// queue must be 1-64 letters, digits, - or _, not {queue!r}")
    discipline = str(options.get("discipline") or "fifo")
    if discipline not in DISCIPLINES:
        raise BackendError(
            f"nats:// discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}"
        )
    levels = int(_number(options, "levels", 10, 2, 10))
    max_deliver = int(_number(options, "max_deliver", 25, 1, 10_000))
    floats = {
        key: _number(options, key, default, 0.05, 3600.0)
        for key, default in (
            ("ack_wait", 30.0), ("wait", 1.0), ("connect_timeout", 3.0),
            ("reconnect_timeout", 30.0),
        )
    }  # fmt: skip
    return server, NatsOptions(queue, discipline, levels, max_deliver=max_deliver, **floats)


def _number(options: dict[str, Any], key: str, default: float, low: float, high: float) -> float:
    value = options.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise BackendError(f"nats:// {key} must be a number {low:g}..{high:g}, not {value!r}")
    return number
