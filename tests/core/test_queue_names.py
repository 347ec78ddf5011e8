"""A URL's queue name, and the same URL naming a fresh queue (the app's "fresh queue")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.queue_names import queue_name, with_queue_name

URLS = [
    ("memory://", "default"),
    ("memory://jobs?discipline=priority", "jobs"),
    ("sqlite:///x.db", "default"),
    ("sqlite:///x.db?queue=a&batch=5", "a"),
    ("redis://:s3cret@127.0.0.1:6379/0?queue=q", "q"),
    ("amqp://guest:guest@127.0.0.1:5672/", "default"),
]


@pytest.mark.parametrize("url, name", URLS)
def test_the_queue_a_url_names(url: str, name: str) -> None:
    assert queue_name(url) == name


@given(st.sampled_from([u for u, _ in URLS]),
       st.from_regex(r"[a-z][a-z0-9-]{0,30}", fullmatch=True))
def test_a_fresh_name_changes_the_queue_and_nothing_else(url: str, name: str) -> None:
    fresh = with_queue_name(url, name)
    assert queue_name(fresh) == name
    assert fresh.partition("://")[0] == url.partition("://")[0]
    if "@" in url:  # the authority, password included, is left as it was
        assert url.partition("://")[2].partition("/")[0] in fresh
    if "batch=5" in url:
        assert "batch=5" in fresh
