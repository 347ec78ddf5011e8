"""What every read-only source is: open, read one `Sample`, close - and nothing else.

A source reads a queue that belongs to someone else. It has no method that could change
that queue, and the modules behind it never import the writing parts of `backends/`
(an import-linter contract in pyproject.toml says so). A failure to read is a
`SourceError` whose message is meant for a person and never carries a password.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from queuelab.core.monitoring import RateDerivation, Sample


class SourceError(Exception):
    """The source cannot be read now: unreachable, refused, unknown queue, bad option.

    `lasting` is True for what polling again will not fix by itself (a bad option, an
    ambiguous layout); False for what may pass (a server away, a queue not created yet).
    """

    def __init__(self, message: str, *, lasting: bool = False) -> None:
        super().__init__(message)
        self.lasting = lasting


class Source(Protocol):
    """A read-only reader of one queue."""

    url: str  # the source URL with its password masked: safe to show, log and store
    queue: str

    @property
    def method(self) -> str:
        """How it reads, in words (the status bar says it): "RabbitMQ management API", …"""
        ...

    @property
    def derivation(self) -> RateDerivation: ...

    async def open(self) -> None: ...
    async def read(self) -> Sample: ...
    async def close(self) -> None: ...


def option(options: dict[str, str], name: str, known: tuple[str, ...], url: str) -> str:
    """`options[name]`, refusing options the source does not know (naming the ones it does)."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise SourceError(f"{url}: unknown option{'s' if len(unknown) > 1 else ''} "
                          f"{', '.join(unknown)} (known: {', '.join(known)})", lasting=True)
    return options.get(name, "")
