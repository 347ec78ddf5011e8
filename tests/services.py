"""Tests that need a server: skipped where it is not running, failed where CI requires it.

CI (`.ci/run`) sets `QUEUELAB_REQUIRE_SERVICES=1`: there a server that does not answer
makes its tests fail, never skip quietly. On a machine without the server they are
skipped, saying which server and how to make them fail instead.

    BackendSpec(..., marks=needs("redis"))          # a contract spec
    pytestmark = needs("redis")                       # a whole test module
"""

from __future__ import annotations

import functools
import os
import socket

import pytest

#: the servers the tests talk to, all on 127.0.0.1 (README.md, .ci/run)
PORTS = {"postgres": 5432, "redis": 6379, "rabbitmq": 5672, "nats": 4222}


def required() -> bool:
    """CI's switch: a missing server is a failure."""
    return os.environ.get("QUEUELAB_REQUIRE_SERVICES") == "1"


@functools.cache
def reachable(service: str) -> bool:
    """Whether the service's port on 127.0.0.1 accepts a connection (checked once)."""
    try:
        with socket.create_connection(("127.0.0.1", PORTS[service]), timeout=1.0):
            return True
    except OSError:
        return False


def disruptive() -> pytest.MarkDecorator:
    """The mark of a test that restarts or cuts a shared server (other programs on this
    machine would see it). Opt-in: it runs only with `QUEUELAB_DISRUPTIVE=1`, which CI
    sets; a plain `pytest` on a user's machine never restarts their server."""
    return pytest.mark.skipif(
        os.environ.get("QUEUELAB_DISRUPTIVE") != "1",
        reason="restarts a shared server: opt in with QUEUELAB_DISRUPTIVE=1",
    )


def needs(service: str) -> tuple[pytest.MarkDecorator, ...]:
    """The marks for tests that talk to `service`: its marker, and a skip if it is down
    (unless required, when the tests run and fail on the missing server)."""
    marks = [getattr(pytest.mark, service)]
    if not required() and not reachable(service):
        marks.append(
            pytest.mark.skip(
                reason=f"{service} is not running on 127.0.0.1:{PORTS[service]} "
                "(QUEUELAB_REQUIRE_SERVICES=1 makes this a failure)"
            )
        )
    return tuple(marks)
