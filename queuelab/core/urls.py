"""Backend URLs without their secrets: what may be shown, logged or saved.

A password typed into a backend URL must never reach a log, a scenario file or a
screenshot; every place that shows or writes a URL goes through these two functions.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def _netloc(user: str | None, password: str | None, host: str) -> str:
    if not user and password is None:
        return host  # no user and no password: no "@" either
    auth = user or ""
    if password is not None:
        auth += f":{password}"
    return f"{auth}@{host}"


def _split(url: str) -> tuple[object, str | None, str | None, str]:
    parts = urlsplit(url)
    userinfo, sep, host = parts.netloc.rpartition("@")
    if not sep:
        return parts, None, None, parts.netloc
    user, colon, password = userinfo.partition(":")
    return parts, user, (password if colon else None), host


def redact_url(url: str, mask: str = "***") -> str:
    """The URL with its password replaced by `mask` (user and host kept for recognition)."""
    parts, user, password, host = _split(url)
    if password is None:
        return url
    return urlunsplit(parts._replace(netloc=_netloc(user, mask, host)))  # type: ignore[attr-defined]


def strip_password(url: str) -> str:
    """The URL with its password removed: what a saved scenario keeps."""
    parts, user, password, host = _split(url)
    if password is None:
        return url
    return urlunsplit(parts._replace(netloc=_netloc(user, None, host)))  # type: ignore[attr-defined]


def has_password(url: str) -> bool:
    return _split(url)[2] is not None
