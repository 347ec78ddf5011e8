"""One masking rule for credentials in URLs and messages (`core.urls.mask`)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.urls import (
    describe_failure,
    has_credentials,
    mask,
    redact_url,
    secrets_of,
    strip_credentials,
)


class DriverError(Exception):
    """Stands for whatever a driver raises."""


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@h:6379/0", "redis://:***@h:6379/0"),
        ("amqp://guest:guest@h/", "amqp://guest:***@h/"),  # the user name stays
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("redis://h/0?password=pw&queue=q", "redis://h/0?password=***&queue=q"),
        ("redis://h/0?queue=q&token=abc;api_key=k", "redis://h/0?queue=q&token=***;api_key=***"),
        ("redis://[::1/0", "redis://[::1/0"),  # malformed: as is, no traceback
        ("memory://jobs", "memory://jobs"),
        ("redis://u:***@h", "redis://u:***@h"),  # masked once, not twice
    ],
)
def test_urls_show_their_credentials_masked(url: str, shown: str) -> None:
    assert redact_url(url) == shown == mask(shown)


def test_a_saved_url_keeps_no_credential_option_and_no_password() -> None:
    """Before, `?password=` was saved in scenario files (only user:password@ was stripped)."""
    url = "redis://u:pw@h:6379/0?queue=q&password=pw2&Auth_Token=t#x"
    assert strip_credentials(url) == "redis://u@h:6379/0?queue=q#x"
    assert strip_credentials("redis://:pw@h/0") == "redis://h/0"
    assert strip_credentials("redis://h/0?password=pw") == "redis://h/0"
    assert has_credentials(url) and has_credentials("redis://h/0?token=x")
    assert not has_credentials("redis://h/0?queue=q")


def test_a_short_password_never_damages_queuelab_s_own_words() -> None:
    """Before, with the password "wrong", RabbitMQ's hint became "*** user or password?" and
    with guest:guest the user name was masked too, and the URL was repeated."""
    url = "amqp://guest:wrong@127.0.0.1:5672/"
    ours = RuntimeError(
        "RabbitMQ at amqp://guest:***@127.0.0.1:5672/ refused the login of user 'guest' "
        "(wrong user or password?)"
    )
    line = describe_failure(ours, url, ours=True)
    assert line == str(ours)  # the URL once, the hint and the user intact
    guest = "amqp://guest:guest@127.0.0.1:5672/"
    assert describe_failure(ours, guest, ours=True).count("'guest'") == 1


def test_a_driver_message_is_masked_with_the_url_s_secrets() -> None:
    url = "postgresql://app:Sup3r-secret@db/test?sslpassword=k3y"
    exc = DriverError("auth failed for app with Sup3r-secret; sslpassword=k3y; see x://a:b@c")
    line = describe_failure(exc, url, ours=False)
    assert "Sup3r-secret" not in line and "k3y" not in line and ":b@" not in line
    assert line.startswith("postgresql://app:***@db/test?sslpassword=***: DriverError: ")
    assert "for app with ***" in line
    assert set(secrets_of(url)) == {"Sup3r-secret", "k3y"}
    assert secrets_of("amqp://u:p%40ss@h/") == ["p%40ss", "p@ss"]


@settings(max_examples=500, deadline=None)
@given(st.text(), st.text())
def test_masking_never_raises(text: str, url: str) -> None:
    for out in (mask(text), mask(text, url), redact_url(url), strip_credentials(url)):
        assert isinstance(out, str)
    assert isinstance(describe_failure(DriverError(text), url, ours=False), str)
    has_credentials(url)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.characters(
            whitelist_categories=("L", "N", "P", "S"), blacklist_characters="@/?#%&;=,'\"<>()[]{}"
        ),
        min_size=1,
    ),
    st.sampled_from(["redis", "amqp", "postgresql"]),
)
def test_a_password_never_survives_masking(password: str, scheme: str) -> None:
    assert redact_url(f"{scheme}://user:{password}@host/x") == f"{scheme}://user:***@host/x"
    assert strip_credentials(f"{scheme}://user:{password}@host/x") == f"{scheme}://user@host/x"
    assert redact_url(f"{scheme}://host/x?password={password}") == f"{scheme}://host/x?password=***"
    assert strip_credentials(f"{scheme}://host/x?password={password}") == f"{scheme}://host/x"
