"""The Redis backend: `redis://[user:password@]host:port[/db]?queue=jobs&discipline=priority`.

Options (URL query or keywords): `queue` (name, default "default"); `discipline` ("fifo"
or "priority"; unnamed: the queue's own, FIFO for a new one); `connect_timeout` (s to
reach the server, default 3); `socket_timeout` (s a reply may take, default 10);
`reconnect_timeout` (s an operation keeps retrying after a lost connection, default 30);
`poll_interval` (s an idle waiting claimer waits at most before looking again, default
2). `username`, `password` (if not in the URL) and, for `rediss://`, `ssl_cert_reqs` and
`ssl_ca_certs` are handed to redis-py.

Why sorted sets and Lua rather than Streams. A stream with a consumer group gives
at-least-once delivery and XAUTOCLAIM for consumers that vanished, but nothing else this
queue needs: it has no priorities (one stream per level, read in order, is no longer one
atomic claim), no delayed delivery (a sorted set of retries is needed anyway), leases that
end by idle time rather than a deadline that `extend` moves, and a retried task would be
a new entry with a new id. The reliable-queue pattern on sorted sets gives all of it
directly (`keys.py` lists the keys): `ready` ordered by priority then by the moment a task
became ready; `delayed` by due time; `leased` by lease deadline. Each operation is one Lua
script (`scripts.py`), so it is atomic and one round trip: a claim promotes due retries,
returns expired leases to the queue (their attempt already counted), pops up to N, writes
the lease tokens and deadlines and increments attempts. Ack, nack and dead-letter check
the lease token and deadline first (`LeaseLost` otherwise, changing nothing). Dead
letters stay in Redis (a hash of DeadLetter JSON, a sorted set by dead-lettered time for
paging); reprocess and discard are scripts too. Counts are exact: they reap first.

Durability is the server's: with persistence off (as on the machines this is tested on) a
Redis restart loses the queue; turn on AOF for more. The key layout is cluster-ready (one
hash slot per queue, every key a script touches passed as a key); the client is redis-py's
standalone one.

Lost connections (`link.py`): an operation is retried through reconnects, and state
changes are made idempotent by recording each operation's outcome under its lane, so a
retry after a lost reply replays rather than repeats. Waiting claimers (`waiting.py`) are
woken through pub/sub and one timer per handle, not by polling.
"""

from __future__ import annotations

from typing import Any

from queuelab.backends import redact_url
from queuelab.backends.base import BackendError
from queuelab.backends.redis_queue.queue import DISCIPLINES, Receipt, RedisQueue

__all__ = ["DISCIPLINES", "Receipt", "RedisQueue", "from_url"]

_NUMBERS = {
    "connect_timeout": 3.0,
    "socket_timeout": 10.0,
    "reconnect_timeout": 30.0,
    "poll_interval": 2.0,
}
_PASSED_ON = ("username", "password", "ssl_cert_reqs", "ssl_ca_certs")
_OPTIONS = ("queue", "discipline", *_NUMBERS, *_PASSED_ON)


def from_url(url: str, **options: Any) -> RedisQueue:
    """A not-yet-opened queue for `url`; the options are the URL's query merged with keywords."""
    shown = redact_url(url)
    unknown = set(options) - set(_OPTIONS)
    if unknown:
        raise BackendError(
            f"redis:// does not know the option(s) {', '.join(sorted(unknown))}; "
            f"it knows {', '.join(_OPTIONS)}"
        )
    numbers = {}
    for key, default in _NUMBERS.items():
        value = options.get(key, default)
        try:
            number = float(value)
        except (TypeError, ValueError):
            number = -1.0
        if not number > 0:
            raise BackendError(f"redis:// {key} must be a number of seconds > 0, not {value!r}")
        numbers[key] = number
    base = url.split("#", 1)[0].split("?", 1)[0]  # our options are not redis-py's
    return RedisQueue(
        base,
        shown,
        name=str(options.get("queue") or "default"),
        discipline=None if options.get("discipline") is None else str(options["discipline"]),
        redis_options={k: options[k] for k in _PASSED_ON if k in options},
        **numbers,
    )
