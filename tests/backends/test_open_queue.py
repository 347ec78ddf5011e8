"""Choosing a backend by URL: lazy imports, clear refusals, and no password ever shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import queuelab.backends as backends
from queuelab.backends import BackendError, open_queue, parse_options, redact_url
from queuelab.backends.memory import MemoryQueue

REPO = Path(__file__).resolve().parents[2]

# url, backend module, driver import name, install hint
_SQL, _REDIS, _AMQP = (f"queuelab.backends.{m}" for m in ("sql", "redis_queue", "amqp"))
NON_MEMORY = [
    ("sqlite:///tmp/q.db", _SQL, "aiosqlite", "pip install 'aiosqlite'"),
    ("postgresql://u:s3cret@localhost/test", _SQL, "asyncpg", "pip install 'asyncpg'"),
    ("postgresql+asyncpg://u:s3cret@db/test", _SQL, "asyncpg", "pip install 'asyncpg'"),
    ("postgres://u:s3cret@localhost/test", _SQL, "asyncpg", "pip install 'asyncpg'"),
    ("redis://:s3cret@127.0.0.1:6379/0", _REDIS, "redis", "pip install 'redis'"),
    ("amqp://guest:s3cret@127.0.0.1/", _AMQP, "aio_pika", "pip install 'aio-pika'"),
]


def _refuse(missing: str) -> Any:
    def load(module: str) -> ModuleType:
        raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)

    return load


@pytest.mark.parametrize(("url", "module", "driver", "hint"), NON_MEMORY)
def test_a_missing_driver_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, driver: str, hint: str
) -> None:
    monkeypatch.setattr(backends, "_load", _refuse(driver))
    with pytest.raises(BackendError) as caught:
        open_queue(url)
    message = str(caught.value)
    scheme = url.split("://")[0]
    assert message.startswith(f"{scheme}:// needs the ")
    assert hint in message
    assert "s3cret" not in message


def test_the_redis_message_reads_well(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "_load", _refuse("redis"))
    with pytest.raises(BackendError) as caught:
        open_queue("redis://localhost")
    assert str(caught.value) == (
        "redis:// needs the Python package 'redis', which is installed with QueueLab but "
        "missing here: pip install 'redis' (or reinstall QueueLab)"
    )


@pytest.mark.parametrize(("url", "module", "driver", "hint"), NON_MEMORY)
def test_a_driver_missing_from_the_environment_is_one_message_before_connecting(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, driver: str, hint: str
) -> None:
    """Before, a missing asyncpg passed `open_queue` (the SQL module loads it only on open)
    and surfaced as a raw ModuleNotFoundError at the first connection."""
    real = backends.importlib.util.find_spec

    def find_spec(name: str, *args: Any) -> Any:
        return None if name == driver else real(name, *args)

    monkeypatch.setattr(backends.importlib.util, "find_spec", find_spec)
    with pytest.raises(BackendError) as caught:
        open_queue(url)
    assert str(caught.value) == backends.driver_message(url.split("://")[0], driver)
    assert hint in str(caught.value) and "s3cret" not in str(caught.value)


def test_every_driver_is_a_default_dependency() -> None:
    """README command 1 (`pip install -e .`) must bring every backend's driver."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    names = {
        d.split(";")[0].split(">")[0].split("[")[0].split("~")[0].strip().lower()
        for d in project["dependencies"]
    }
    assert {"asyncpg", "redis", "aio-pika", "aiosqlite", "sqlalchemy"} <= names
    for extra in ("postgres", "redis", "amqp", "backends"):  # old commands keep working
        assert extra in project["optional-dependencies"]


@pytest.mark.parametrize(("url", "module", "driver", "hint"), NON_MEMORY)
def test_a_missing_backend_module_is_reported(
    monkeypatch: pytest.MonkeyPatch, url: str, module: str, driver: str, hint: str
) -> None:
    monkeypatch.setattr(backends, "_load", _refuse(module))
    with pytest.raises(BackendError, match=f"not available.*{module}") as caught:
        open_queue(url)
    assert "s3cret" not in str(caught.value)


def test_the_backend_module_gets_the_url_and_merged_options(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: dict[str, Any] = {}

    def from_url(url: str, **options: Any) -> MemoryQueue:
        seen.update(url=url, options=options)
        return MemoryQueue()

    def load(module: str) -> Any:
        seen["module"] = module
        return SimpleNamespace(from_url=from_url)

    monkeypatch.setattr(backends, "_load", load)
    queue = open_queue("redis://:pw@h:6379/0?prefix=ql&lease=30", lease=5.0, pool=4)
    assert isinstance(queue, MemoryQueue)
    assert seen == {
        "module": "queuelab.backends.redis_queue",
        "url": "redis://:pw@h:6379/0?prefix=ql&lease=30",  # the backend needs the password
        "options": {"prefix": "ql", "lease": 5.0, "pool": 4},  # keywords win
    }


@pytest.mark.parametrize("url", ["foo://u:s3cret@host/x", "jobs", "", "MEMORY-ish://x"])
def test_an_unknown_scheme_names_the_supported_ones(url: str) -> None:
    with pytest.raises(BackendError) as caught:
        open_queue(url)
    message = str(caught.value)
    for scheme in ("memory://", "sqlite://", "postgresql://", "redis://", "amqp://"):
        assert scheme in message
    assert "s3cret" not in message


def test_schemes_are_case_insensitive() -> None:
    assert isinstance(open_queue("MEMORY://case-test"), MemoryQueue)


def test_supported_schemes() -> None:
    assert {"memory", "sqlite", "postgresql", "postgres", "redis", "amqp"} <= set(
        backends.supported_schemes()
    )


def test_drivers_are_imported_only_when_their_url_is_used() -> None:
    code = (
        "import sys, asyncio\n"
        "from queuelab.backends import open_queue\n"
        "async def main():\n"
        "    async with open_queue('memory://lazy') as q:\n"
        "        await q.counts()\n"
        "asyncio.run(main())\n"
        "heavy = ('redis', 'asyncpg', 'aio_pika', 'sqlalchemy', 'aiosqlite', 'PySide6',\n"
        "         'queuelab.backends.sql', 'queuelab.backends.redis_queue',\n"
        "         'queuelab.backends.amqp', 'queuelab.sim', 'queuelab.runtime')\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://user:s3cret@db:5432/test", "postgresql://user:***@db:5432/test"),
        ("postgresql://user:p@ss:w@rd@db/test?x=1", "postgresql://user:***@db/test?x=1"),
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("amqp://guest:guest@127.0.0.1/", "amqp://guest:***@127.0.0.1/"),
        ("amqps://u:pw@[::1]:5671/vh", "amqps://u:***@[::1]:5671/vh"),
        ("postgres://user@db/test", "postgres://user@db/test"),
        ("sqlite:///var/q.db", "sqlite:///var/q.db"),
        ("memory://jobs?discipline=priority", "memory://jobs?discipline=priority"),
        ("redis://h/0?password=s3cret&db=1", "redis://h/0?password=***&db=1"),
        ("redis://h/0?a=1&Token=s3cret#frag", "redis://h/0?a=1&Token=***#frag"),
        ("not a url", "not a url"),
        ("amqp://u:s3cret@[::1", "amqp://u:***@[::1"),  # malformed, still masked
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_parse_options() -> None:
    assert parse_options("memory://?discipline=priority") == {"discipline": "priority"}
    assert parse_options("memory://name") == {}
    assert parse_options("redis://h/0?a=1&b=&a=2") == {"a": "2", "b": ""}
    assert parse_options("sqlite:///x.db?journal=wal%20mode") == {"journal": "wal mode"}
