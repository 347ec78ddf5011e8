"""KEDA triggers for the `sqs://` and `nats://` backends: `aws-sqs-queue` and `nats-jetstream`.

Each trigger names what QueueLab's backend creates for the scenario's queue `Q`
(`queuelab/backends/sqs/queue.py`, `queuelab/backends/nats_queue/queue.py`): on SQS the FIFO
queue `Q.fifo` (or `Q-p0`..`Q-p{levels-1}` for priority), on JetStream the stream `QL_Q`
and its durable consumer `c_t` (or `c_p0`..). A test holds these names to the backends'.
Nothing secret is written: no credentials, the SQS endpoint only in a comment, the NATS
host without its user or password.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, urlsplit

Trigger = tuple[dict[str, Any], list[str]]


def _option(url: str, key: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(key)
    return values[0] if values else None


def _levels(url: str) -> int | None:
    """The number of priority queues/subjects, None for the fifo discipline."""
    if _option(url, "discipline") != "priority":
        return None
    try:
        return int(_option(url, "levels") or 10)
    except ValueError:
        return 10


def _watched(names: str, levels: int | None, what: str) -> list[str]:
    if levels is None:
        return []
    return [f"discipline priority: QueueLab spreads the queue over {levels} {what} "
            f"({names}), one per priority level; this trigger watches level 0, where",
            "tasks of the default priority wait. KEDA takes the largest trigger's proposal, "
            "not the sum:", "add a trigger per level your tasks use."]


def sqs_trigger(url: str, target: str, activation: str) -> Trigger:
    """`aws-sqs-queue` over the queue QueueLab's SQS backend claims ready tasks from."""
    parts = urlsplit(url)
    queue = _option(url, "queue") or parts.hostname or "default"
    queue = queue.removesuffix(".fifo")
    region = (_option(url, "region") or os.environ.get("AWS_REGION")
              or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
    levels = _levels(url)
    name = f"{queue}-p0" if levels is not None else f"{queue}.fifo"
    notes = [f"queueURL is the queue's name ({name}), enough for KEDA within one account and",
             "region: the full https://sqs.REGION.amazonaws.com/ACCOUNT/NAME URL works too.",
             "scaleOnInFlight false: KEDA counts the visible messages only, as QueueLab's "
             "backlog does."]
    if levels is None:
        notes.append(f"{queue}-delay holds the tasks waiting out a retry delay and {queue}-dead "
                     "the dead letters: neither is counted.")
    notes += _watched(f"{queue}-p0 .. {queue}-p{levels - 1}" if levels else "", levels,
                      "standard queues")
    endpoint = _option(url, "endpoint")
    if endpoint:
        ep = urlsplit(endpoint)
        shown = f"{ep.scheme}://{ep.hostname}{f':{ep.port}' if ep.port else ''}"
        notes.append(f"The scenario's SQS endpoint was {shown}; on AWS leave awsEndpoint out.")
    notes += ["Permissions: give the trigger an AWS identity, never keys in this file, e.g.",
              "authenticationRef:",
              "  name: YOUR-TRIGGER-AUTHENTICATION  # podIdentity provider: aws",
              "(or, before KEDA 2.13, identityOwner: operator)"]
    return {"type": "aws-sqs-queue", "metadata": {
        "queueURL": name, "awsRegion": region, "queueLength": target,
        "activationQueueLength": activation, "scaleOnInFlight": "false",
    }}, notes  # fmt: skip


def nats_trigger(url: str, target: str, activation: str) -> Trigger:
    """`nats-jetstream` over the stream and consumer QueueLab's NATS backend declares."""
    queue = _option(url, "queue") or "default"
    levels = _levels(url)
    consumer = "c_p0" if levels is not None else "c_t"
    host = urlsplit(url).hostname or "localhost"
    monitor = f"[{host}]:8222" if ":" in host else f"{host}:8222"
    notes = [f"stream QL_{queue}; consumer {consumer} pulls subject ql.{queue}.w."
             f"{consumer[2:]}; its lag is the messages not yet delivered, the ready tasks.",
             "natsServerMonitoringEndpoint is the scenario's server with NATS's monitoring "
             "port (nats-server -m 8222);", "in a cluster, name its Service instead."]
    notes += _watched(f"consumers c_p0 .. c_p{levels - 1} on ql.{queue}.w.p0 .. "
                      f"ql.{queue}.w.p{levels - 1}" if levels else "", levels, "subjects")
    return {"type": "nats-jetstream", "metadata": {
        "natsServerMonitoringEndpoint": monitor, "account": "$G", "stream": f"QL_{queue}",
        "consumer": consumer, "lagThreshold": target, "activationLagThreshold": activation,
    }}, notes  # fmt: skip
