"""The work of scripts/monitor_demo.py's real Celery and RQ workers: sleep, then succeed."""

from __future__ import annotations

import os
import time

from celery import Celery

app = Celery("monitor_demo", broker=os.environ.get(
    "MONITOR_DEMO_BROKER", "amqp://guest:guest@127.0.0.1:5672//"))


@app.task(name="monitor_demo.work")
def work(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def rq_work(seconds: float) -> float:
    time.sleep(seconds)
    return seconds
