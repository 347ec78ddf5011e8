"""One aiobotocore SQS client per handle, and SQS's errors as one-line messages.

botocore retries a failed call itself (the "standard" retry mode: 3 tries with jittered
backoff), and a call that still cannot reach the server is tried again here for up to
`reconnect_timeout` seconds, so a server that stops and starts again (or a cut network)
is ridden through. What still fails reaches the caller as one line naming the queue and the
operation, never the credentials (they come from the AWS chain and are never part of a
message here). A call whose reply was lost may have acted: a send is then made twice
(at-least-once), a receive's messages come back when their visibility runs out.
"""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack
from typing import Any

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
)
from botocore.exceptions import ConnectionError as TransportError

from queuelab.backends.base import BackendError
from queuelab.core.urls import redact_url

from .options import SqsOptions

#: error codes meaning "this receipt is void": the message was deleted or received again
VOID_RECEIPT = frozenset({"ReceiptHandleIsInvalid", "MessageNotInflight", "InvalidParameterValue"})
NO_QUEUE = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
PURGE_BUSY = frozenset({"AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress"})
DENIED = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId",
                    "UnrecognizedClientException", "SignatureDoesNotMatch"})  # fmt: skip


class SqsError(BackendError):
    """A failed SQS call; `code` is SQS's error code ("" for a transport failure)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code


class Link:
    """The client of one handle: opened once, every call made through `call`."""

    def __init__(self, options: SqsOptions, shown_url: str) -> None:
        self.options = options
        self.shown = shown_url
        self.where = redact_url(options.endpoint) if options.endpoint else f"{options.region}"
        self._stack: AsyncExitStack | None = None
        self.client: Any = None
        self.outages = 0  # calls tried again because the server could not be reached
        self.retried = 0  # tries botocore made again inside calls that then succeeded

    async def open(self) -> None:
        config = AioConfig(
            connect_timeout=self.options.connect_timeout,
            read_timeout=self.options.wait + 15,  # a long poll answers after `wait` seconds
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=64,  # one client serves every worker of the process
        )
        stack = AsyncExitStack()
        try:
            self.client = await stack.enter_async_context(
                get_session().create_client(
                    "sqs",
                    region_name=self.options.region,
                    endpoint_url=self.options.endpoint,
                    config=config,
                )
            )
        except BaseException as exc:
            await stack.aclose()
            if isinstance(exc, BotoCoreError | ClientError):
                raise self.error("connect", exc) from None
            raise
        self._stack = stack

    async def close(self) -> None:
        stack, self._stack, self.client = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def call(self, verb: str, operation: str, **kwargs: Any) -> dict[str, Any]:
        """`client.<operation>(**kwargs)`; any failure becomes an `SqsError` about `verb`."""
        if self.client is None:
            raise SqsError(f"{self.shown}: the queue is closed ({verb})")
        loop = asyncio.get_running_loop()
        give_up = loop.time() + self.options.reconnect_timeout
        pause = 0.1
        while True:
            try:
                response: dict[str, Any] = await getattr(self.client, operation)(**kwargs)
            except (TransportError, HTTPClientError, OSError) as exc:
                if loop.time() + pause > give_up or self.client is None:
                    raise self.error(verb, exc) from None
                self.outages += 1
                await asyncio.sleep(pause)
                pause = min(1.0, pause * 2)
                continue
            except (BotoCoreError, ClientError) as exc:
                raise self.error(verb, exc) from None
            self.retried += int(response.get("ResponseMetadata", {}).get("RetryAttempts", 0))
            return response

    def error(self, verb: str, exc: BaseException) -> SqsError:
        where = f"{self.shown}: {verb} failed"
        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            text = str(err.get("Message", "")).split("\n", 1)[0]
            if code in NO_QUEUE:
                return SqsError(f"{where}: the queue does not exist (deleted meanwhile?)", code)
            if code in DENIED:
                return SqsError(f"{where}: SQS refused the credentials or the right ({code})",
                                code)
            return SqsError(f"{where}: {code}: {text}", code)
        if isinstance(exc, NoCredentialsError):
            return SqsError(
                f"{where}: no AWS credentials found (set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY or a profile; any values do for a local server)"
            )
        if isinstance(exc, NoRegionError):
            return SqsError(f"{where}: no AWS region (add ?region=... to the URL)")
        if isinstance(exc, EndpointConnectionError):
            return SqsError(f"{where}: cannot reach SQS at {self.where}")
        text = str(exc).split("\n", 1)[0]
        return SqsError(f"{where}: {type(exc).__name__}: {redact_url(text)}")
