"""Which queue inside a backend a URL names, and the same URL naming another queue.

`memory://NAME` names its queue in the host part; every other backend takes `?queue=NAME`
(`default` when absent). A run that finds its queue in use may start on a fresh name
instead of touching what is there. Plain string work on the query string only: the
authority (and any password in it) is left exactly as it was.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

DEFAULT = "default"


def _memory(url: str) -> bool:
    return url.partition("://")[0].lower() == "memory"


def queue_name(url: str) -> str:
    """The queue a backend URL names (`default` when it names none)."""
    head, _, query = url.partition("?")
    if _memory(url):
        return head.partition("://")[2].strip("/") or DEFAULT
    for key, value in parse_qsl(query.partition("#")[0], keep_blank_values=True):
        if key == "queue" and value:
            name = value
            break
    else:
        name = DEFAULT
    return name


def with_queue_name(url: str, name: str) -> str:
    """`url` naming the queue `name`, every other part and option unchanged."""
    head, qmark, rest = url.partition("?")
    query, hash_, fragment = rest.partition("#")
    if _memory(url):
        scheme = head.partition("://")[0]
        return f"{scheme}://{name}{qmark}{rest}"
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "queue"]
    pairs.append(("queue", name))
    return f"{head}?{urlencode(pairs)}{hash_}{fragment}"
