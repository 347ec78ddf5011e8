"""Read-only readers of queues QueueLab did not create, chosen by URL.

    source = open_source("amqp://guest:guest@127.0.0.1/%2F?queue=celery")
    await source.open(); sample = await source.read(); await source.close()

* `amqp://user:pw@host/vhost?queue=Q`: RabbitMQ, through the management HTTP API
  (`api=http://host:15672` says where), or AMQP passive declares where it is unreachable;
  `layout=queuelab` for QueueLab's own queue `Q`.
* `redis://host:6379/0?queue=Q`: Celery (kombu lists, priority sub-lists, `unacked`), RQ
  (`rq:queue:Q` and its registries) or QueueLab's own keys, detected; `layout=` when
  ambiguous.
* `postgresql://user@host/db?queue=Q`: QueueLab's tables or procrastinate's
  `procrastinate_jobs`, detected; `layout=query&sql=SELECT …` runs a query returning a number.
* `sqlite:///file.db?queue=Q`: QueueLab's tables, or `sql=…`; the file opened read-only.
* `sqs://Q?region=…&endpoint=…`: an SQS queue's approximate counts; `layout=queuelab` for
  QueueLab's own queues of `Q`.
* `nats://host:4222?queue=STREAM`: a JetStream stream and its consumers; `layout=queuelab`
  for QueueLab's own streams of `Q`.

Each driver is imported only when its URL is used. No source can write: see `base.py`.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

from queuelab.core.urls import redact_url
from queuelab.sources.base import Source, SourceError

__all__ = ["Source", "SourceError", "open_source", "source_options"]

_SCHEMES = {
    "amqp": "rabbitmq", "amqps": "rabbitmq",
    "redis": "redis_layouts", "rediss": "redis_layouts",
    "postgresql": "sql", "postgres": "sql", "postgresql+asyncpg": "sql",
    "sqlite": "sql", "sqlite+aiosqlite": "sql",
    "sqs": "sqs", "nats": "nats",
}


def source_options(url: str) -> dict[str, str]:
    """The URL's query options (`queue`, `layout`, …); a repeated key keeps its last value."""
    try:
        return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    except ValueError as exc:
        raise SourceError(f"not a valid URL: {redact_url(url)!r} ({exc})", lasting=True) from None


def open_source(url: str) -> Source:
    """A not-yet-opened read-only source for `url`; SourceError names what is wrong."""
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "memory":
        raise SourceError("memory:// queues live inside the process that made them; nothing "
                          "outside it can watch one (use sqlite://, redis:// … to share)",
                          lasting=True)
    module = _SCHEMES.get(scheme)
    if module is None:
        known = ", ".join(sorted({f"{s}://" for s in _SCHEMES}))
        raise SourceError(f"cannot monitor {redact_url(url)!r}: "
                          f"{'scheme ' + repr(scheme) if scheme else 'no scheme'}; "
                          f"supported: {known}", lasting=True)
    options = source_options(url)
    by_query = module == "sql" and (options.get("sql") or options.get("layout") == "query")
    named_by_host = module == "sqs" and url.partition("://")[2][:1] not in ("", "?", "/")
    if not options.get("queue") and not by_query and not named_by_host:
        raise SourceError(f"{redact_url(url)}: say which queue to watch with ?queue=NAME",
                          lasting=True)
    try:
        if module == "rabbitmq":
            from queuelab.sources.rabbitmq import RabbitSource
            return RabbitSource(url, options)
        if module == "redis_layouts":
            from queuelab.sources.redis_layouts import RedisSource
            return RedisSource(url, options)
        if module == "sqs":
            from queuelab.sources.sqs import SqsSource
            return SqsSource(url, options)
        if module == "nats":
            from queuelab.sources.nats import NatsSource
            return NatsSource(url, options)
        from queuelab.sources.sql import SqlSource
        return SqlSource(url, options)
    except ModuleNotFoundError as exc:
        raise SourceError(f"{scheme}:// needs the {exc.name!r} package "
                          "(pip install 'queuelab[backends]')", lasting=True) from None
