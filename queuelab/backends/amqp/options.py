"""What an `amqp://` URL may say, checked once, so a typo fails at open and not mid-run.

`amqp://user:password@host:port/vhost?queue=jobs&discipline=priority&prefetch=50`

The URL's path is the RabbitMQ virtual host, as in every AMQP client, so the QueueLab queue
is named by the `queue` option. Connection options that aio-pika/aiormq understand
(`heartbeat`, `name`, TLS files …) are passed through to the broker connection; our own are
taken out of the URL before it reaches the driver.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from queuelab.backends.base import BackendError

DISCIPLINES = ("fifo", "priority")

#: options the driver reads from the connection URL; passed through untouched
DRIVER_OPTIONS = (
    "heartbeat",
    "name",
    "auth",
    "cafile",
    "capath",
    "cadata",
    "certfile",
    "keyfile",
    "no_verify_ssl",
)
OUR_OPTIONS = (
    "queue",
    "discipline",
    "prefetch",
    "connect_timeout",
    "reconnect_interval",
    "publish_timeout",
    "management_port",
)

#: queue names become parts of broker object names and routing keys: keep them plain
_NAME = re.compile(r"^[A-Za-z0-9_:-][A-Za-z0-9_.:-]{0,99}$")


@dataclass(frozen=True, slots=True)
class AmqpOptions:
    """Every knob of the AMQP backend, validated."""

    queue: str = "default"
    discipline: str = "fifo"
    prefetch: int = 100  # basic.qos prefetch_count: unacked deliveries this client may hold
    connect_timeout: float = 3.0  # a broker that does not answer is reported after this
    reconnect_interval: float = 1.0  # pause between reconnection attempts after a drop
    publish_timeout: float = 15.0  # how long a publish may wait for a reconnection
    management_port: int = 15672  # the management API, for other processes' leases; 0: off

    @property
    def priority(self) -> bool:
        return self.discipline == "priority"


def parse(url: str, options: dict[str, Any]) -> tuple[str, AmqpOptions]:
    """The driver's connection URL (our options removed) and our validated options."""
    unknown = sorted(set(options) - set(OUR_OPTIONS) - set(DRIVER_OPTIONS))
    if unknown:
        raise BackendError(
            f"amqp:// does not know the option(s) {', '.join(unknown)}; it knows "
            f"{', '.join(OUR_OPTIONS + DRIVER_OPTIONS)}"
        )
    ours = {k: v for k, v in options.items() if k in OUR_OPTIONS}
    driver = {k: str(v) for k, v in options.items() if k in DRIVER_OPTIONS}
    parts = urlsplit(url)
    connection_url = urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(driver), ""))
    return connection_url, _validate(ours)


def _validate(raw: dict[str, Any]) -> AmqpOptions:
    queue = str(raw.get("queue", "default"))
    if not _NAME.match(queue):
        raise BackendError(
            f"amqp:// queue must be 1-100 letters, digits or _ . : - (not starting with .), "
            f"not {queue!r}"
        )
    discipline = str(raw.get("discipline", "fifo"))
    if discipline not in DISCIPLINES:
        raise BackendError(
            f"amqp:// discipline must be one of {', '.join(DISCIPLINES)}, not {discipline!r}"
        )
    prefetch = _number(raw, "prefetch", 100, int)
    if not 1 <= prefetch <= 65535:
        raise BackendError(f"amqp:// prefetch must be 1..65535, not {prefetch}")
    floats = {}
    for key, default in (
        ("connect_timeout", 3.0),
        ("reconnect_interval", 1.0),
        ("publish_timeout", 15.0),
    ):
        value = _number(raw, key, default, float)
        if not 0 < value <= 3600:
            raise BackendError(f"amqp:// {key} must be > 0 and <= 3600 seconds, not {value}")
        floats[key] = value
    management_port = _number(raw, "management_port", 15672, int)
    if not 0 <= management_port <= 65535:
        raise BackendError(f"amqp:// management_port must be 0..65535, not {management_port}")
    return AmqpOptions(queue, discipline, prefetch, **floats, management_port=management_port)


def _number(raw: dict[str, Any], key: str, default: float, kind: type) -> Any:
    value = raw.get(key, default)
    try:
        return kind(value)
    except (TypeError, ValueError):
        raise BackendError(f"amqp:// {key} must be a number, not {value!r}") from None
