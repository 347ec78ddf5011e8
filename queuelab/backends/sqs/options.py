"""What an `sqs://` URL may say, checked once, so a typo fails at open and not mid-run.

`sqs://QUEUE?region=eu-west-1&endpoint=http://127.0.0.1:5000&discipline=priority`

The URL's host part names the QueueLab queue (`queue=` overrides it). Credentials never
come from the URL: aiobotocore takes them from the usual AWS chain (environment, profile,
instance role), so none can reach a scenario file or a log through the URL.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from queuelab.backends.base import BackendError
from queuelab.core.urls import redact_url

DISCIPLINES = ("fifo", "priority")
OPTIONS = (
    "queue", "region", "endpoint", "discipline", "levels", "wait", "connect_timeout",
    "dead_hold", "reconnect_timeout",
)  # fmt: skip

#: SQS allows 80 characters of letters, digits, - and _; the longest suffix added is 6
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,74}$")
_REGION = re.compile(r"^[a-z0-9-]{1,40}$")


@dataclass(frozen=True, slots=True)
class SqsOptions:
    """Every knob of the SQS backend, validated."""

    queue: str = "default"
    region: str = "us-east-1"
    endpoint: str | None = None  # http(s)://host:port of a local server or a VPC endpoint
    discipline: str = "fifo"
    levels: int = 10  # priority queues per QueueLab queue (priorities clamp to 0..levels-1)
    wait: int = 1  # s of one long poll (ReceiveMessage WaitTimeSeconds, 1..20)
    connect_timeout: float = 3.0
    dead_hold: int = 30  # s the dead-letter index holds the messages it has read
    reconnect_timeout: float = 30.0  # s a call keeps trying to reach the server

    @property
    def priority(self) -> bool:
        return self.discipline == "priority"

    def work_queues(self) -> list[str]:
        """The SQS queues holding tasks: `Q-p{level}` highest first, or `Q.fifo`, `Q-delay`."""
        q = self.queue
        if self.priority:
            return [f"{q}-p{level}" for level in reversed(range(self.levels))]
        return [f"{q}.fifo", f"{q}-delay"]


def parse(url: str, options: dict[str, Any]) -> SqsOptions:
    """The validated options of `url` merged with `options` (the caller's merge)."""
    shown = redact_url(url)
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise BackendError(
            f"sqs:// does not know the option(s) {', '.join(unknown)}; "
            f"it knows {', '.join(OPTIONS)}"
        )
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if parts.username or parts.password:
            raise BackendError(
                f"sqs:// takes no credentials in the URL ({shown}): they come from the AWS "
                "chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, a role)"
            )
    except ValueError as exc:
        raise BackendError(f"not a valid sqs:// URL: {shown!r} ({exc})") from None
    queue = str(options.get("queue") or parts.netloc or "default")
    if queue.endswith(".fifo"):
        queue = queue[: -len(".fifo")]
    if not _NAME.match(queue):
        raise BackendError(
            f"sqs:// queue must be 1-74 letters, digits, - or _, not {queue!r}"
            if host or options.get("queue")
            else f"sqs:// queue name missing in {shown!r}"
        )
    region = str(
        options.get("region") or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )  # fmt: skip
    if not _REGION.match(region):
        raise BackendError(f"sqs:// region must look like eu-west-1, not {region!r}")
    endpoint = options.get("endpoint") or None
    if endpoint is not None:
        endpoint = str(endpoint)
        try:
            ep = urlsplit(endpoint)
            ok = ep.scheme in ("http", "https") and bool(ep.hostname)
            ep.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            ok = False
        if not ok:
            raise BackendError(
                f"sqs:// endpoint must be http(s)://host[:port], not {redact_url(endpoint)!r}"
            )
    discipline = str(options.get("discipline") or "fifo")
    if discipline not in DISCIPLINES:
        raise BackendError(
            f"sqs:// discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}"
        )
    levels = _int(options, "levels", 10, 2, 10)
    wait = _int(options, "wait", 1, 1, 20)
    dead_hold = _int(options, "dead_hold", 30, 5, 3600)
    connect_timeout = _float(options, "connect_timeout", 3.0)
    reconnect_timeout = _float(options, "reconnect_timeout", 30.0)
    return SqsOptions(
        queue, region, endpoint, discipline, levels, wait, connect_timeout, dead_hold,
        reconnect_timeout,
    )  # fmt: skip


def _int(options: dict[str, Any], key: str, default: int, low: int, high: int) -> int:
    value = options.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = low - 1
    if not low <= number <= high:
        raise BackendError(f"sqs:// {key} must be a whole number {low}..{high}, not {value!r}")
    return number


def _float(options: dict[str, Any], key: str, default: float) -> float:
    value = options.get(key, default)
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not 0 < number <= 600:
        raise BackendError(f"sqs:// {key} must be seconds > 0 and <= 600, not {value!r}")
    return number
