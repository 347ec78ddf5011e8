"""One robust connection to RabbitMQ: connecting with a clear refusal, channels that come
back after a drop, and publishes that are confirmed or reported - never silently lost.

`aio_pika.connect_robust` reconnects by itself and reopens the channels made from it; the
code above uses the underlying aiormq channels (fewer layers on the hot path) and asks this
link for the current one each time. A publish waits for the broker's confirm; when the
connection drops first, it waits for the reconnection and publishes again (a message whose
confirm was lost may then exist twice: the consumer side drops the second copy by its
message id, see `wire.Redeliveries`), and after `publish_timeout` it raises `BackendError`
saying how many were not confirmed.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import unquote, urlsplit

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustChannel
from aiormq import spec
from aiormq.exceptions import (
    AMQPError,
    ChannelPreconditionFailed,
    ConnectionNotAllowed,
    ProbableAuthenticationError,
    PublishError,
)

from queuelab.backends.base import BackendError
from queuelab.core.urls import mask

from .options import AmqpOptions
from .wire import REDELIVERIES

T = TypeVar("T")

#: what a dropped connection or closed channel raises from aiormq/aio-pika calls
TROUBLE = (AMQPError, ConnectionError, OSError, RuntimeError, asyncio.TimeoutError)


def is_trouble(exc: BaseException) -> bool:
    """Connection trouble (retry after reconnecting), not a bug or our own cancellation.

    aiormq rejects pending calls of a closed connection with the close reason, which may be
    a CancelledError although nobody cancelled the caller.
    """
    if isinstance(exc, asyncio.CancelledError):
        task = asyncio.current_task()
        return task is None or task.cancelling() == 0
    return isinstance(exc, TROUBLE)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to publish."""

    exchange: str
    routing_key: str
    body: bytes
    properties: spec.Basic.Properties


class Link:
    """The connection of one queue handle and its channels."""

    def __init__(self, connection_url: str, shown_url: str, options: AmqpOptions) -> None:
        self._url = connection_url
        self.shown = shown_url
        self.options = options
        self.connection: aio_pika.RobustConnection | None = None
        self.publisher: AbstractRobustChannel | None = None
        self.closed = False
        self.reconnects = 0  # connections re-established after a drop
        self._channels: list[AbstractRobustChannel] = []

    # --- life cycle ---------------------------------------------------------------
    async def connect(self) -> None:
        """Connect, or raise BackendError with one line a person can act on."""
        timeout = self.options.connect_timeout
        connection = aio_pika.RobustConnection(
            aio_pika.connection.make_url(self._url),
            reconnect_interval=self.options.reconnect_interval,
            client_properties={"connection_name": f"queuelab {self.options.queue}"},
        )
        try:
            await asyncio.wait_for(connection.connect(timeout=timeout), timeout + 1.0)
        except BaseException as exc:
            await _quietly(connection.close())
            if isinstance(exc, asyncio.CancelledError) and not is_trouble(exc):
                raise
            raise BackendError(self._refusal(exc)) from None
        connection.reconnect_callbacks.add(self._reconnected)
        self.connection = connection
        self.publisher = await self.channel(confirms=True)

    def _reconnected(self, *_: object) -> None:
        self.reconnects += 1

    async def channel(self, *, confirms: bool = False) -> AbstractRobustChannel:
        assert self.connection is not None
        ch = self.connection.channel(publisher_confirms=confirms, on_return_raises=confirms)
        await ch.initialize()
        self._channels.append(ch)  # type: ignore[arg-type]
        return ch  # type: ignore[return-value]

    async def close(self) -> None:
        """Close the channels, then the connection (so no channel tries to come back)."""
        self.closed = True
        connection, self.connection = self.connection, None
        channels, self._channels = self._channels, []
        for ch in reversed(channels):
            if not ch.is_closed:
                await _quietly(ch.close())
        if connection is not None:
            await _quietly(connection.close())

    def _refusal(self, exc: BaseException) -> str:
        where = f"RabbitMQ at {self.shown}"
        if isinstance(exc, ProbableAuthenticationError):
            user = unquote(urlsplit(self._url).username or "guest")
            return f"{where} refused the login of user {user!r} (wrong user or password?)"
        if isinstance(exc, ConnectionNotAllowed):
            return f"{where} refused the connection: {self._scrub(exc)} (does the vhost exist?)"
        if isinstance(exc, asyncio.TimeoutError):
            return f"{where} did not answer within {self.options.connect_timeout:g} s"
        cause = exc.__cause__ or exc.__context__
        for e in (exc, cause):
            if isinstance(e, socket.gaierror):
                return f"cannot reach {where}: unknown host"
            refused = isinstance(e, ConnectionRefusedError) or (
                isinstance(e, OSError) and bool(e.args) and e.args[0] == errno.ECONNREFUSED
            )
            if refused:
                return f"cannot reach {where}: connection refused (is the broker running?)"
        return f"cannot reach {where}: {self._scrub(exc)}"

    def _scrub(self, exc: BaseException) -> str:
        """The driver's exception as text, its credentials masked should it echo them."""
        text = mask(f"{type(exc).__name__}: {exc}", self._url)
        return text.splitlines()[0] if text else type(exc).__name__

    # --- channels through drops --------------------------------------------------------
    async def underlay(
        self, robust: AbstractRobustChannel, deadline: float
    ) -> aiormq.abc.AbstractChannel:
        """The open aiormq channel behind `robust`, waiting for a reconnection if needed.

        Raises BackendError once `deadline` (loop time) passes or the link was closed.
        """
        loop = asyncio.get_running_loop()
        while True:
            if self.closed:
                raise BackendError(f"{self.shown}: the queue was closed")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise BackendError(
                    f"{self.shown}: connection to RabbitMQ lost and not back within "
                    f"{self.options.publish_timeout:g} s"
                )
            try:
                await asyncio.wait_for(robust.ready(), remaining)
                ch = await robust.get_underlay_channel()
            except BaseException as exc:
                if not is_trouble(exc):
                    raise
                await asyncio.sleep(min(0.05, max(remaining, 0)))
                continue
            if not ch.is_closed:
                return ch
            await asyncio.sleep(0.02)

    def deadline(self) -> float:
        return asyncio.get_running_loop().time() + self.options.publish_timeout

    async def rpc_channel(self, robust: AbstractRobustChannel) -> aiormq.abc.AbstractChannel:
        return await self.underlay(robust, self.deadline())

    # --- publishing ------------------------------------------------------------------
    async def publish(self, items: Sequence[Outgoing]) -> None:
        """Publish and wait for every confirm; retried across reconnections.

        Raises BackendError when a message is unroutable (its queue was deleted) or when
        the broker could not confirm everything within `publish_timeout`.
        """
        assert self.publisher is not None
        deadline = self.deadline()
        pending = list(items)
        while pending:
            try:
                ch = await self.underlay(self.publisher, deadline)
            except BackendError as exc:
                raise BackendError(
                    f"{exc}; {len(pending)} message(s) not confirmed (they may or may not "
                    "have reached the queue)"
                ) from None
            results = await self._send(ch, pending)
            failed = []
            for item, result in zip(pending, results, strict=True):
                if isinstance(result, spec.Basic.Ack):
                    continue
                if isinstance(result, PublishError):
                    raise BackendError(
                        f"{self.shown}: RabbitMQ returned a message as unroutable "
                        f"(exchange {item.exchange!r}, key {item.routing_key[:40]!r}): was the "
                        "queue deleted while in use?"
                    )
                if isinstance(result, BaseException) and not is_trouble(result):
                    raise result
                failed.append(item)  # nacked, or the connection dropped before the confirm
            for item in failed:
                REDELIVERIES.republishing(str(item.properties.message_id))
            pending = failed
            if pending:
                await asyncio.sleep(0.05)

    async def _send(self, ch: aiormq.abc.AbstractChannel, items: list[Outgoing]) -> list[object]:
        """Publish all of `items` on `ch` (pipelined), their confirms or exceptions in order.

        `wait=False`: not waiting for each frame to reach the socket lets the next publish
        go at once; the confirm is what matters, and it is awaited.
        """
        assert isinstance(ch, aiormq.Channel)  # the concrete one: it takes `wait`
        if len(items) == 1:
            item = items[0]
            try:
                return [
                    await ch.basic_publish(
                        item.body,
                        exchange=item.exchange,
                        routing_key=item.routing_key,
                        properties=item.properties,
                        mandatory=True,
                        wait=False,
                    )
                ]
            except BaseException as exc:
                if not is_trouble(exc) and not isinstance(exc, PublishError):
                    raise
                return [exc]
        return await asyncio.gather(
            *(
                ch.basic_publish(
                    i.body,
                    exchange=i.exchange,
                    routing_key=i.routing_key,
                    properties=i.properties,
                    mandatory=True,
                    wait=False,
                )
                for i in items
            ),
            return_exceptions=True,
        )


def describe_channel_error(exc: BaseException, what: str) -> str:
    """One line for a broker refusal while declaring (e.g. inequivalent queue arguments)."""
    if isinstance(exc, ChannelPreconditionFailed):
        return (
            f"{what}: RabbitMQ refused the declaration ({exc}); the queue exists with other "
            "arguments - was it created with another discipline? Purge and delete it, or use "
            "another queue name"
        )
    return f"{what}: {type(exc).__name__}: {exc}"


async def _quietly(coro: object) -> None:
    try:
        await coro  # type: ignore[misc]
    except BaseException as exc:  # closing a broken connection may raise anything
        if isinstance(exc, asyncio.CancelledError) and not is_trouble(exc):
            raise


async def retry_read(link: Link, op: Callable[[], Awaitable[T]], what: str,
                     on_trouble: Callable[[], None] | None = None) -> T:
    """Run a read again after a reconnection, until the link's deadline.

    Reading changes nothing on the broker, so repeating it is safe; `on_trouble` lets a
    caller drop what it cached from the lost connection before the next try.
    """
    deadline = link.deadline()
    loop = asyncio.get_running_loop()
    while True:
        try:
            return await op()
        except BaseException as exc:
            if not is_trouble(exc):
                raise
            if loop.time() >= deadline:
                raise BackendError(
                    f"{link.shown}: cannot {what} ({type(exc).__name__}: {exc})"
                ) from None
            if on_trouble is not None:
                on_trouble()
            await asyncio.sleep(0.05)
