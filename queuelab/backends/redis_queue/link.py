"""One connection pool for a queue's life, and how an operation survives losing it.

redis-py's own retries are switched off (`Retry(NoBackoff(), 0)`): it would re-send a
command blindly, and a claim or an enqueue re-sent after its reply was lost would apply
twice. Instead every operation here goes through `call` (reads and idempotent writes:
simply retried) or `mutate` (state changes: made idempotent). A dropped connection is
retried at once (a killed connection is usually replaced in a millisecond), then with
backoff up to `reconnect_timeout`; only then does the operation fail with a one-line
`BackendError`. Idle pooled connections that the server closed are replaced by the pool
when next checked out.

Idempotent state changes - lanes: each operation in flight holds a lane (one of a small
pool per queue handle, `session:n`) and a fresh operation number. Its script records
`op outcome` under the lane in the queue's `lanes` hash. A retry sets `replay`: if the
lane already holds this `op`, the first try did apply and its recorded outcome is returned
(a claim hands back the tasks it leased, if their lease still holds). The hash keeps one
small entry per lane ever used; `close` removes this handle's, `purge` all.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from collections.abc import Sequence
from typing import Any

from redis.asyncio import ConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AuthenticationError,
    AuthorizationError,
    NoScriptError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from queuelab.backends.base import BackendError
from queuelab.backends.redis_queue.scripts import ALL, Script

log = logging.getLogger(__name__)

#: what a dropped or stalled connection raises; the operation may or may not have applied
TRANSIENT = (RedisConnectionError, RedisTimeoutError, OSError)
_REFUSED = (AuthenticationError, AuthorizationError)
#: pause before each retry after the first (which is immediate), the last one repeating
BACKOFF = (0.0, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)


def transient(exc: BaseException) -> bool:
    """Worth retrying: the connection failed, not the request."""
    return isinstance(exc, TRANSIENT) and not isinstance(exc, _REFUSED)


def reason(exc: BaseException) -> str:
    """A one-line reason; redis-py's messages name host and port, never the password."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")


class Link:
    """The pool, the scripts and the retry rules of one queue handle."""

    def __init__(
        self,
        url: str,
        shown: str,
        *,
        client_name: str,
        connect_timeout: float,
        socket_timeout: float,
        reconnect_timeout: float,
        redis_options: dict[str, Any],
    ) -> None:
        self._url = url  # with the password: only ever handed to redis-py
        self.shown = shown  # redacted, for every message
        self._connect_timeout = connect_timeout
        self._socket_timeout = socket_timeout
        self.reconnect_timeout = reconnect_timeout
        self._redis_options = redis_options  # passed through to redis-py (TLS settings)
        self._client_name = client_name  # what CLIENT LIST shows for these connections
        self.client: Redis | None = None
        self._pool: ConnectionPool | None = None
        self.session = secrets.token_hex(6)
        self._ops = itertools.count(1)
        self._lanes: list[str] = []
        self._lane_count = 0
        self._down_since: float | None = None
        self._lanes_key = ""  # the queue's `lanes` hash, for `close` to tidy
        #: outages this handle recovered from, and operations it had to retry
        self.reconnects = 0
        self.retried = 0

    # --- life cycle ---------------------------------------------------------------
    async def open(self) -> Redis:
        """Connect, check the server answers and load the scripts; fail fast if not."""
        if self.client is not None:
            return self.client
        try:
            pool = ConnectionPool.from_url(
                self._url,
                socket_connect_timeout=self._connect_timeout,
                socket_timeout=self._socket_timeout,
                retry=Retry(NoBackoff(), 0),
                client_name=self._client_name,
                **self._redis_options,
            )
        except (ValueError, TypeError) as exc:
            raise BackendError(f"not a usable Redis URL {self.shown!r}: {reason(exc)}") from None
        client = Redis(connection_pool=pool)
        try:
            async with asyncio.timeout(self._connect_timeout + self._socket_timeout):
                pipe = client.pipeline(transaction=False)
                for script in ALL:
                    pipe.script_load(script.source)
                await pipe.execute()
        except _REFUSED as exc:
            await _dispose(client, pool)
            raise BackendError(f"Redis at {self.shown} refused the login: {reason(exc)}") from None
        except (RedisError, OSError, TimeoutError) as exc:
            await _dispose(client, pool)
            raise BackendError(f"cannot reach Redis at {self.shown}: {reason(exc)}") from None
        self.client, self._pool = client, pool
        return client

    async def close(self) -> None:
        """Drop this handle's lane records (best effort) and every connection."""
        client, pool = self.client, self._pool
        self.client = self._pool = None
        if client is None or pool is None:
            return
        if self._lane_count and self._lanes_key:
            fields = [f"{self.session}:{n}" for n in range(self._lane_count)]
            try:
                async with asyncio.timeout(self._socket_timeout):
                    await client.hdel(self._lanes_key, *fields)
            except (RedisError, OSError, TimeoutError):
                pass  # the server is gone; the entries are tiny and `purge` removes them
        await _dispose(client, pool)

    def use_lanes(self, key: str) -> None:
        """Where `mutate` records its lanes (the queue's `lanes` hash), for `close`."""
        self._lanes_key = key

    # --- running scripts ------------------------------------------------------------
    async def _eval(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        client = self.client
        if client is None:
            raise BackendError(
                f"the queue at {self.shown} is not open: use `async with open_queue(url)` "
                "or `await queue.open()`"
            )
        try:
            return await client.evalsha(script.sha, len(keys), *keys, *args)
        except NoScriptError:  # the server restarted or flushed its scripts
            await client.script_load(script.source)
            return await client.evalsha(script.sha, len(keys), *keys, *args)
        except ResponseError as exc:
            raise BackendError(
                f"Redis at {self.shown} refused {script.name}: {reason(exc)}"
            ) from None

    async def call(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a script that may safely run twice, retrying through lost connections."""
        try:
            reply = await self._eval(script, keys, args)
        except TRANSIENT as exc:
            if not transient(exc):
                raise self._refused(exc) from None
            return await self._retry(script, keys, args, exc, None)
        if self._down_since is not None:
            self._recovered()
        return reply

    async def mutate(self, script: Script, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run a state-changing script under a lane so a retry never applies it twice."""
        lanes = self._lanes
        lane = lanes.pop() if lanes else self._new_lane()
        op = str(next(self._ops))
        try:
            try:
                reply = await self._eval(script, keys, (lane, op, "0", *args))
            except TRANSIENT as exc:
                if not transient(exc):
                    raise self._refused(exc) from None
                return await self._retry(script, keys, (lane, op, "1", *args), exc, script.name)
            if self._down_since is not None:
                self._recovered()
            return reply
        finally:
            lanes.append(lane)

    def _new_lane(self) -> str:
        lane = f"{self.session}:{self._lane_count}"
        self._lane_count += 1
        return lane

    async def _retry(
        self,
        script: Script,
        keys: Sequence[str],
        args: Sequence[Any],
        first: BaseException,
        mutating: str | None,
    ) -> Any:
        self.retried += 1
        now = time.monotonic()
        if self._down_since is None:
            self._down_since = now
            log.warning(
                "%s: lost the connection to Redis (%s); reconnecting for up to %g s",
                self.shown,
                reason(first),
                self.reconnect_timeout,
            )
        give_up = now + self.reconnect_timeout
        last: BaseException = first
        for attempt in itertools.count():
            remaining = give_up - time.monotonic()
            if remaining <= 0:
                break
            pause = min(BACKOFF[min(attempt, len(BACKOFF) - 1)], remaining)
            if pause:
                await asyncio.sleep(pause)
            try:
                reply = await self._eval(script, keys, args)
            except TRANSIENT as exc:
                if not transient(exc):
                    raise self._refused(exc) from None
                last = exc
                continue
            self._recovered()
            return reply
        what = f"a {mutating}" if mutating else f"a {script.name}"
        raise BackendError(
            f"lost the connection to Redis at {self.shown} during {what} and could not "
            f"restore it within {self.reconnect_timeout:g} s: {reason(last)}"
        )

    def _recovered(self) -> None:
        if self._down_since is None:
            return
        log.warning(
            "%s: connection to Redis restored after %.2f s",
            self.shown,
            time.monotonic() - self._down_since,
        )
        self._down_since = None
        self.reconnects += 1

    def _refused(self, exc: BaseException) -> BackendError:
        return BackendError(f"Redis at {self.shown} refused the login: {reason(exc)}")


async def _dispose(client: Redis, pool: ConnectionPool) -> None:
    try:
        await client.aclose()
    finally:
        await pool.disconnect()
