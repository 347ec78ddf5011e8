"""A real local SQS server for the tests: moto's server mode in this process, on 127.0.0.1.

Any access key works against it; the tests set dummy ones where none are set, so the AWS
credential chain finds them (and never a person's real ones: setdefault keeps those, and
they would only ever be sent to 127.0.0.1).
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_sqs(port: int | None = None) -> Iterator[str]:
    """Start moto's ThreadedMotoServer on `port` (a free one if None); yield its endpoint."""
    from moto.server import ThreadedMotoServer

    os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port or free_port(), verbose=False)
    server.start()
    try:
        host, bound = server.get_host_and_port()
        yield f"http://{host}:{bound}"
    finally:
        server.stop()
