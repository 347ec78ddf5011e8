"""Unacknowledged messages of a queue, from RabbitMQ's management HTTP API.

AMQP itself reports only a queue's ready messages (queue.declare's message_count); the
messages other processes hold unacked - their leases - are visible only through the
management plugin (`/api/queues/<vhost>/<queue>`). Its figures are sampled every few
seconds (collect_statistics_interval, 5 s by default), so they may lag the broker.

A plain HTTP/1.0 GET on a stream, with the AMQP URL's host and credentials: one request per
count, no HTTP client library to install. Any failure (plugin not enabled, refused, slow)
is None: the caller counts what it can see itself.
"""

from __future__ import annotations

import asyncio
import base64
import json
from urllib.parse import quote, unquote, urlsplit

#: the management plugin's default port; the URL option `management_port` changes it
PORT = 15672
_LIMIT = 1 << 20  # bytes of a reply read at most


async def unacknowledged(url: str, queue: str, port: int, timeout: float) -> int | None:
    """The queue's `messages_unacknowledged` as the management API reports it, or None."""
    if port <= 0:
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname or "localhost"
        user = unquote(parts.username or "guest")
        password = unquote(parts.password or "guest")
        vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    except ValueError:
        return None
    auth = base64.b64encode(f"{user}:{password}".encode()).decode()
    path = f"/api/queues/{quote(vhost, safe='')}/{quote(queue, safe='')}"
    request = (
        f"GET {path}?columns=messages_unacknowledged HTTP/1.0\r\nHost: {host}:{port}\r\n"
        f"Authorization: Basic {auth}\r\nAccept: application/json\r\n\r\n"
    )
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(host, port)
            try:
                writer.write(request.encode())
                await writer.drain()
                reply = await reader.read(_LIMIT)
                while chunk := await reader.read(_LIMIT):
                    reply += chunk
                    if len(reply) > _LIMIT:
                        return None
            finally:
                writer.close()
    except (OSError, TimeoutError):
        return None
    head, _, body = reply.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.") or head.split(b" ", 2)[1:2] != [b"200"]:
        return None
    try:
        value = json.loads(body).get("messages_unacknowledged")
    except (ValueError, AttributeError):
        return None
    return value if type(value) is int and value >= 0 else None
