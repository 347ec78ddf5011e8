"""The headless commands behind `queuelab run`, `queuelab scenario …`, `queuelab worker`."""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXIT_INVALID = 2
"""A command's exit status when its input is refused (a bad file, option or value)."""


def say_refused(headline: str, errors: Sequence[object]) -> int:
    """Say on stderr what was refused, then each reason on its own indented line."""
    print(headline, file=sys.stderr)
    for err in errors:
        print(f"  {err}", file=sys.stderr)
    return EXIT_INVALID
