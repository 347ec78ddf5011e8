"""Shared pieces of the monitor tests: unique names, fast polling, waiting for a value."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Callable
from typing import TypeVar

from queuelab.core.monitoring import Sample
from queuelab.sources import Source, SourceError, open_source

from ..services import needs

T = TypeVar("T")

#: polls of a read-only proof: an hour of 5-second polls is 720; the proofs poll this many
#: times as fast as the source answers (compressed to seconds)
PROOF_POLLS = 720


def unique(prefix: str) -> str:
    """A queue name no other test run on a shared server will use."""
    return f"ql-mon-{prefix}-{os.getpid()}-{secrets.token_hex(3)}"


async def read_many(url: str, n: int) -> list[Sample]:
    """Open a source for `url`, read it `n` times back to back, close it."""
    source = open_source(url)
    await source.open()
    try:
        return [await source.read() for _ in range(n)]
    finally:
        await source.close()


async def read_until(source: Source, ok: Callable[[Sample], bool], timeout: float = 30.0
                     ) -> Sample:
    """Read until `ok(sample)` (the management API lags the broker by seconds)."""
    end = time.monotonic() + timeout
    while True:
        try:
            s = await source.read()
        except SourceError as exc:  # a queue seconds old may have no figures yet
            if exc.lasting or time.monotonic() > end:
                raise
        else:
            if ok(s) or time.monotonic() > end:
                return s
        await asyncio.sleep(0.25)


def on_server(service: str) -> Callable[[T], T]:
    """The marks of one test that talks to `service` (a module may mix servers)."""
    def mark(test: T) -> T:
        for m in needs(service):
            test = m(test)
        return test
    return mark
