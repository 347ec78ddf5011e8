"""Jobs an RQ worker in another process runs for the monitor tests (importable by name)."""

from __future__ import annotations

import time


def quick() -> int:
    return 1


def slow(seconds: float) -> int:
    time.sleep(seconds)
    return 2


def broken() -> None:
    raise RuntimeError("this job fails on purpose")
