"""Queue backends, chosen by URL: `open_queue("memory://jobs?discipline=priority")`.

A backend module, and the driver it needs, is imported the first time its URL is opened,
so the app starts fast (and the simulator never loads a driver). Every driver is a default
dependency of QueueLab; should one be missing anyway (a trimmed environment, a broken
install), `open_queue` says so in one message, the same for every backend, before any
connection is tried (`missing_driver`).

A backend module plugs in by defining `from_url(url: str, **options) -> TaskQueue` and
being named in `_SCHEMES` below. `from_url` receives the URL as given (password included,
to connect with) and the options: the URL's query string merged with the keyword options
of `open_queue` (keywords win). It sets `queue.url = redact_url(url)` and refuses options
it does not know with a `BackendError` naming the ones it does.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from queuelab.backends.base import (
    BackendError,
    Delivery,
    LeaseLost,
    QueueCounts,
    TaskQueue,
)
from queuelab.core.urls import redact_url

__all__ = [
    "BackendError",
    "Delivery",
    "LeaseLost",
    "QueueCounts",
    "TaskQueue",
    "open_queue",
    "parse_options",
    "redact_url",
    "supported_schemes",
]


@dataclass(frozen=True, slots=True)
class _Backend:
    """Where a URL scheme's implementation lives and the drivers it imports."""

    module: str
    drivers: tuple[str, ...]  # top-level import names of the third-party packages it uses


_SQL = _Backend("queuelab.backends.sql", ("sqlalchemy", "greenlet", "aiosqlite"))
_POSTGRES = _Backend("queuelab.backends.sql", ("sqlalchemy", "greenlet", "asyncpg"))
_REDIS = _Backend("queuelab.backends.redis_queue", ("redis",))
_AMQP = _Backend("queuelab.backends.amqp", ("aio_pika", "aiormq", "pamqp"))
_SQS = _Backend("queuelab.backends.sqs", ("aiobotocore", "botocore", "aiohttp"))
_NATS = _Backend("queuelab.backends.nats_queue", ("nats",))

_SCHEMES: dict[str, _Backend] = {
    "memory": _Backend("queuelab.backends.memory", ()),
    "sqlite": _SQL,
    "sqlite+aiosqlite": _SQL,
    "postgresql": _POSTGRES,
    "postgresql+asyncpg": _POSTGRES,
    "postgres": _POSTGRES,
    "redis": _REDIS,
    "rediss": _REDIS,
    "amqp": _AMQP,
    "amqps": _AMQP,
    "sqs": _SQS,
    "nats": _NATS,
}

#: the package a person installs for each driver import name (they differ for aio_pika)
_PACKAGE_OF = {
    "aio_pika": "aio-pika",
    "aiormq": "aio-pika",
    "pamqp": "aio-pika",
    "greenlet": "sqlalchemy[asyncio]",
    "sqlalchemy": "sqlalchemy[asyncio]",
}



def supported_schemes() -> tuple[str, ...]:
    """The URL schemes `open_queue` knows, for menus and error messages."""
    return tuple(_SCHEMES)


def parse_options(url: str) -> dict[str, str]:
    """The URL's query-string options, e.g. `{"discipline": "priority"}`.

    Options live in the URL so that one string in a scenario file or the backend menu says
    everything; a repeated key keeps its last value.
    """
    try:
        query = urlsplit(url).query
    except ValueError as exc:
        raise BackendError(f"not a valid queue URL: {redact_url(url)!r} ({exc})") from None
    return dict(parse_qsl(query, keep_blank_values=True))


def _scheme_of(url: str) -> str:
    scheme, sep, _ = url.partition("://")
    return scheme.lower() if sep else ""


def driver_message(scheme: str, driver: str) -> str:
    """The one message for a missing driver, whichever backend needs it."""
    package = _PACKAGE_OF.get(driver, driver)
    return (
        f"{scheme}:// needs the Python package {package!r}, which is installed with QueueLab "
        f"but missing here: pip install '{package}' (or reinstall QueueLab)"
    )


def missing_driver(url: str) -> str | None:
    """The message for the first driver `url`'s backend needs and cannot find, or None.

    Looks without importing (`find_spec`), so asking costs no start-up time.
    """
    scheme = _scheme_of(url)
    backend = _SCHEMES.get(scheme)
    for driver in backend.drivers if backend else ():
        try:
            found = importlib.util.find_spec(driver) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return driver_message(scheme, driver)
    return None


def _load(module: str) -> ModuleType:
    """Import a backend module (a seam the tests replace to simulate missing drivers)."""
    return importlib.import_module(module)


def open_queue(url: str, **options: Any) -> TaskQueue:
    """A not-yet-opened `TaskQueue` for `url`; use it as `async with open_queue(url) as q`.

    Options come from the URL's query string and from keywords (keywords win). Raises
    `BackendError` for an unknown scheme, a backend that is not available, or a missing
    driver, with what to install.
    """
    scheme = _scheme_of(url)
    backend = _SCHEMES.get(scheme)
    if backend is None:
        known = ", ".join(f"{s}://" for s in _SCHEMES)
        what = f"scheme {scheme!r}" if scheme else "no scheme"
        raise BackendError(f"cannot open queue URL {redact_url(url)!r}: {what}; supported: {known}")
    if (message := missing_driver(url)) is not None:
        raise BackendError(message)
    try:
        module = _load(backend.module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing in backend.drivers:
            raise BackendError(driver_message(scheme, missing)) from exc
        if exc.name and backend.module.startswith(exc.name):
            raise BackendError(
                f"{scheme}:// is not available in this build of QueueLab "
                f"(module {backend.module} is missing)"
            ) from exc
        raise BackendError(
            f"{scheme}:// could not be loaded: module {exc.name!r} is missing"
        ) from exc
    queue: TaskQueue = module.from_url(url, **{**parse_options(url), **options})
    return queue
