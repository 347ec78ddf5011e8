"""Backend URLs as the window handles them: the kinds offered, passwords kept in memory only,
and a connection test.

A scenario (and so every file, setting and title made from it) holds the URL without its
password (`core.urls.strip_password`); the password a person typed lives in a
`BackendSecrets` for the session, and is put back only where a connection is made.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from queuelab.backends import BackendError, open_queue, parse_options, supported_schemes
from queuelab.backends.base import DisciplineMismatch
from queuelab.core.urls import MASK, describe_failure, has_password, redact_url, strip_password

TEST_TIMEOUT = 5.0  # seconds a connection test waits for an answer


@dataclass(frozen=True)
class BackendKind:
    """One entry of the backend chooser: its name, the URL it starts from and a hint."""

    key: str
    label: str
    schemes: tuple[str, ...]
    default_url: str
    hint: str


KINDS: tuple[BackendKind, ...] = (
    BackendKind("memory", "Memory", ("memory",), "memory://",
                "In this process: nothing to install, gone when the app closes. FIFO or "
                "priority order follows the scenario's discipline (Queue ▸ Discipline)."),
    BackendKind("sqlite", "SQLite", ("sqlite", "sqlite+aiosqlite"), "sqlite:///",
                "A file on this machine: tasks and dead letters survive a restart of the "
                "app; a run that finds some asks before touching them."),
    BackendKind("postgresql", "PostgreSQL", ("postgresql", "postgresql+asyncpg", "postgres"),
                "postgresql://localhost:5432/postgres",
                "postgresql://USER@HOST:PORT/DATABASE; claims with FOR UPDATE SKIP LOCKED."),
    BackendKind("redis", "Redis", ("redis", "rediss"), "redis://localhost:6379/0",
                "redis://[:PASSWORD@]HOST:PORT/DB (rediss:// for TLS)."),
    BackendKind("amqp", "RabbitMQ", ("amqp", "amqps"), "amqp://guest@localhost:5672/",
                "amqp://USER@HOST:PORT/VHOST; RabbitMQ's default user is guest/guest "
                "(accepted from localhost only)."),
    BackendKind("sqs", "Amazon SQS", ("sqs",), "sqs://default?region=us-east-1",
                "sqs://QUEUE?region=REGION&endpoint=URL; credentials come from the AWS chain "
                "(AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, a profile, a role), never "
                "from the URL. Endpoint: empty for AWS itself, or a local SQS server "
                "(http://127.0.0.1:5000) or a VPC endpoint."),
    BackendKind("nats", "NATS JetStream", ("nats",), "nats://localhost:4222",
                "nats://[USER@]HOST:PORT of a server with JetStream on (nats-server -js). "
                "Ack wait: how soon a task held by a worker that died comes back."),
)

#: the URL options a kind shows as fields of their own, beside the queue name
OPTION_FIELDS: dict[str, tuple[tuple[str, str, str], ...]] = {  # kind: (option, label, hint)
    "sqs": (
        ("region", "Region", "us-east-1"),
        ("endpoint", "Endpoint", "empty: AWS itself; or http://127.0.0.1:5000"),
    ),
    "nats": (("ack_wait", "Ack wait (s)", "30"),),
}


def without_password(url: str) -> str:
    """`strip_password`, minus the empty user it leaves of `redis://:pw@host` (`redis://@host`)."""
    bare = strip_password(url)
    head, sep, rest = bare.partition("://@")
    return f"{head}://{rest}" if sep else bare


def kind_of(url: str) -> BackendKind | None:
    """The chooser entry for a URL, by its scheme (None for a scheme QueueLab does not know)."""
    scheme = url.partition("://")[0].lower()
    return next((k for k in KINDS if scheme in k.schemes), None)


def _raw_password(url: str) -> str | None:
    if not has_password(url):
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def password_of(url: str) -> str | None:
    """The URL's password, decoded (None when it has none): that of `user:password@`, else
    a `?password=` option (the same thing to the drivers; the dialog keeps it in its field)."""
    raw = _raw_password(url)
    if raw is None and "?" in url:
        try:
            options = parse_options(url)
        except BackendError:
            return None
        return next((v for k, v in options.items() if k.lower() == "password" and v), None)
    return None if raw is None else unquote(raw)


def with_password(url: str, password: str | None) -> str:
    """`url` carrying `password` (percent-encoded), or none when `password` is empty."""
    bare = without_password(url)
    if not password:
        return bare
    parts = urlsplit(bare)
    user, at, host = parts.netloc.rpartition("@")
    netloc = f"{user}:{quote(password, safe='')}@{host}" if at else \
        f":{quote(password, safe='')}@{parts.netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


class BackendSecrets:
    """Credentials typed this session (a password, `?password=`, a token), kept as the full
    URL under the credential-free URL a scenario holds; memory only."""

    def __init__(self) -> None:
        self._full: dict[str, str] = {}

    def remember(self, url: str, previous: str | None = None) -> str:
        """Keep `url`'s credentials; returns the URL without them (what the scenario may hold).

        A credential shown masked (`***`) and sent back unchanged means "the one I had":
        that of `previous` (the full URL the field showed), else the one remembered.
        """
        bare = without_password(url)
        if not has_password(url):
            return bare
        full = url
        if MASK in url:
            if previous and without_password(previous) == bare and has_password(previous):
                full = previous
            else:
                full = self._full.get(bare, bare)
        if has_password(full):
            self._full[bare] = full
        return bare

    def full(self, url: str) -> str:
        """`url` with its remembered credentials put back (as is when none is remembered)."""
        if has_password(url):
            return url
        return self._full.get(url, url)


def check_scheme(url: str) -> str | None:
    """Why `url` cannot name a queue (None when its scheme is one QueueLab opens)."""
    scheme, sep, _ = url.strip().partition("://")
    if not sep:
        return "a backend URL starts with a scheme, e.g. memory://, sqlite:///, redis://"
    if scheme.lower() not in supported_schemes():
        return (f"unknown scheme {scheme!r}: use memory, sqlite, postgresql, redis, amqp, sqs "
                "or nats")
    return None


@dataclass(frozen=True)
class Probe:
    """A connection test's outcome: worked?, one line to show, and, when the queue exists
    with another discipline, that refusal (the dialog then offers a fresh name)."""

    ok: bool
    text: str
    mismatch: DisciplineMismatch | None = None


async def probe(url: str, timeout: float = TEST_TIMEOUT,
                discipline: str = "fifo") -> tuple[bool, str]:
    """`probe_queue` as (worked, one line to show)."""
    got = await probe_queue(url, timeout, discipline)
    return got.ok, got.text


async def probe_queue(url: str, timeout: float = TEST_TIMEOUT,
                      discipline: str = "fifo") -> Probe:
    """Open the queue `url` names, count its tasks and close it.

    The queue is opened as a live run with `discipline` would open it, so the test meets
    what the run would meet. Any failure, whatever the driver raises, becomes one line
    without the password; the wait is bounded so an unreachable host answers "no answer
    within 5 s".
    """
    shown = redact_url(url)
    reason = check_scheme(url)
    if reason is not None:
        return Probe(False, reason)
    began = time.perf_counter()
    queue = None
    try:
        options = {} if discipline == "fifo" or "discipline" in parse_options(url) \
            else {"discipline": discipline}
        queue = open_queue(url, **options)
        async with asyncio.timeout(timeout):
            await queue.open()
            counts = await queue.counts()
    except TimeoutError:
        return Probe(False, f"{shown}: no answer within {timeout:g} s")
    except DisciplineMismatch as exc:
        found = f"a {exc.found} queue" if exc.found else "a queue of another discipline"
        return Probe(False, f"Queue {exc.queue!r} at {shown} already exists as {found}, and "
                            f"this scenario's discipline is {discipline}: use a fresh queue "
                            "name (or purge that queue elsewhere).", exc)
    except BackendError as exc:
        return Probe(False, _one_line(describe_failure(exc, url, ours=True)))
    except Exception as exc:  # whatever a driver raises: the queue cannot be used
        return Probe(False, _one_line(describe_failure(exc, url, ours=False)))
    finally:
        if queue is not None:
            await _close_quietly(queue)
    ms = (time.perf_counter() - began) * 1000
    return Probe(True, f"Connected to {shown} in {ms:,.0f} ms: {counts.ready:,} ready, "
                       f"{counts.delayed:,} delayed, {counts.leased:,} in flight, "
                       f"{counts.dead:,} dead letters{counts.caveat}")


def queue_name(url: str) -> str:
    """The `?queue=` option of a URL ('' when it names none)."""
    return url_option(url, "queue")


def with_queue_name(url: str, name: str) -> str:
    """`url` with its `?queue=` option set to `name` (removed when `name` is empty)."""
    return with_option(url, "queue", name, first=True)


def url_option(url: str, key: str) -> str:
    """One query option of a URL ('' when it has none)."""
    return parse_options(url).get(key, "") if "?" in url else ""


def with_option(url: str, key: str, value: str, *, first: bool = False) -> str:
    """`url` with its `?key=` option set to `value` (removed when `value` is empty)."""
    head, _, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    pairs = [p for p in query.split("&") if p and p.partition("=")[0] != key]
    if value:
        pair = f"{key}={quote(value, safe=':/')}"
        pairs.insert(0 if first else len(pairs), pair)
    return head + ("?" + "&".join(pairs) if pairs else "") + hash_ + fragment


def fresh_queue_name(name: str, discipline: str) -> str:
    """A name for a new queue beside `name` that says its discipline."""
    base = name or "default"
    return base if base.endswith(f"-{discipline}") else f"{base}-{discipline}"


async def _close_quietly(queue: object) -> None:
    try:
        async with asyncio.timeout(TEST_TIMEOUT):
            await queue.close()  # type: ignore[attr-defined]
    except Exception:  # closing a queue that never opened may fail; nothing is held then
        pass


def _one_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else "unknown error"
