"""Credentials out of everything a person sees or a file keeps: one masking rule.

A password typed into a backend URL (`user:password@host`), or given as an option
(`?password=…`, a token, an API key: any option whose name says it is a credential), must
never reach a log, a scenario file, a summary or a screen. `mask` is the one function that
masks them, in URLs and in messages; everything shown or logged goes through it, and
`strip_credentials` gives what a file may keep.

Rules: only the credential is masked (the user name stays, so a person recognises the URL);
each credential once (a message is never rewritten around its own masks); plain string
work, no URL parser, so no input makes it raise (`redis://[::1/0` included).
"""

from __future__ import annotations

import re
from urllib.parse import unquote

MASK = "***"

#: an option name that carries a credential: password, passwd, pwd, secret, token,
#: api_key, private_key, access_key, credentials ... (case and separators ignored)
_CREDENTIAL_NAME = re.compile(
    r"pass|pwd|secret|token|credential|api[_-]?key|private[_-]?key|access[_-]?key", re.I
)
#: name=value anywhere in a message or a query string (the value up to a separator)
_OPTION = re.compile(r"(?P<name>[A-Za-z][A-Za-z0-9_.-]*)=(?P<value>[^\s&;,#'\"<>()\[\]{}]*)")
#: a URL's authority: scheme://, then up to the path, query, fragment or the text's end
_AUTHORITY = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<netloc>[^/?#\s'\"<>]*)")


def is_credential_option(name: str) -> bool:
    """Whether a URL option of this name holds a credential (and is masked, never saved)."""
    return bool(_CREDENTIAL_NAME.search(name))


def _split_netloc(netloc: str) -> tuple[str, str | None, str] | None:
    """(user, password or None, host) of an authority with userinfo; None without."""
    userinfo, at, host = netloc.rpartition("@")
    if not at:
        return None
    user, colon, password = userinfo.partition(":")
    return user, (password if colon else None), host


def _mask_authorities(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        parts = _split_netloc(m["netloc"])
        if parts is None or not parts[1]:
            return m[0]
        user, _, host = parts
        return f"{m['scheme']}{user}:{MASK}@{host}"

    return _AUTHORITY.sub(one, text)


def _mask_options(text: str) -> str:
    def one(m: re.Match[str]) -> str:
        if not m["value"] or not is_credential_option(m["name"]):
            return m[0]
        return f"{m['name']}={MASK}"

    return _OPTION.sub(one, text)


def secrets_of(url: str) -> list[str]:
    """The credentials a URL carries, as written and percent-decoded (longest first), so a
    driver's message quoting one can be masked."""
    found: list[str] = []
    m = _AUTHORITY.match(url.strip())
    if m:
        parts = _split_netloc(m["netloc"])
        if parts is not None and parts[1]:
            found.append(parts[1])
    query = url.partition("?")[2].partition("#")[0]
    for pair in re.split("[&;]", query):
        name, eq, value = pair.partition("=")
        if eq and value and is_credential_option(name):
            found.append(value)
    out = {s for raw in found for s in (raw, _unquote(raw)) if s and s != MASK}
    return sorted(out, key=len, reverse=True)


def _unquote(text: str) -> str:
    try:
        return unquote(text.replace("+", " ")) if "%" in text or "+" in text else text
    except Exception:  # unquote never should; masking must not fail regardless
        return text


def mask(text: str, url: str | None = None) -> str:
    """`text` (a URL or a message) with every credential replaced by `***`, nothing else.

    Masks the password of every `scheme://user:password@` in it and the value of every
    credential option (`password=…`, `token=…`). With `url`, also each credential of that
    URL wherever it appears verbatim: pass it only for a driver's own message (which may
    quote a password bare), never for a message QueueLab wrote, whose words a short
    password could match ("wrong" in "wrong user or password?"). Never raises.
    """
    try:
        out = _mask_options(_mask_authorities(text))
        if url:
            for secret in secrets_of(url):
                out = _mask_bare(out, secret)
        return out
    except Exception:  # a bug here must not turn a message into a traceback
        return "(a message was withheld: it could not be checked for credentials)"


def _mask_bare(text: str, secret: str) -> str:
    """Replace `secret` where it stands alone, not inside a longer word or an earlier mask."""
    pattern = re.compile(r"(?<![A-Za-z0-9])" + re.escape(secret) + r"(?![A-Za-z0-9])")
    return pattern.sub(MASK, text)


def redact_url(url: str) -> str:
    """The URL as it may be shown or logged: `mask` of it (user and host kept)."""
    return mask(url)


def strip_credentials(url: str) -> str:
    """The URL as a file may keep it: no password, no credential option (the user stays)."""
    try:
        m = _AUTHORITY.match(url)
        if m:
            parts = _split_netloc(m["netloc"])
            if parts is not None and parts[1] is not None:
                user, _, host = parts
                netloc = f"{user}@{host}" if user else host
                url = f"{m['scheme']}{netloc}{url[m.end():]}"
        head, q, rest = url.partition("?")
        if not q:
            return url
        query, hash_, fragment = rest.partition("#")
        kept = [
            p for p in re.split("[&;]", query)
            if p and not is_credential_option(p.partition("=")[0])
        ]  # fmt: skip
        return head + ("?" + "&".join(kept) if kept else "") + hash_ + fragment
    except Exception:
        return mask(url)


#: the name the scenario writer has always called
strip_password = strip_credentials


def has_credentials(url: str) -> bool:
    """Whether the URL carries a password or a credential option (masked ones count)."""
    return strip_credentials(url) != url


has_password = has_credentials


def describe_failure(exc: BaseException, url: str, *, ours: bool) -> str:
    """One line for a person about a failure to use `url`, credentials masked once and the
    URL named once. `ours`: the message is QueueLab's own (already safe: only the URL-shaped
    and option credentials are masked); otherwise a driver's, masked with `url`'s secrets."""
    text = str(exc) if ours else f"{type(exc).__name__}: {exc}"
    text = mask(text) if ours else mask(text, url)
    line = (text.strip().splitlines() or [type(exc).__name__])[0]
    shown = redact_url(url)
    return line if shown in line else f"{shown}: {line}"
