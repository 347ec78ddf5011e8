"""The description of one knob, written once and read by everything that shows or checks it.

A scenario field is declared with `knob(...)`; the TOML reader, the validation, the
commented default file, the GUI form and its tooltips all read the same `Knob`, so a new
knob appears everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from queuelab.core.checks import reason


@dataclass(frozen=True, slots=True)
class Knob:
    """What a person needs to know about one scenario value."""

    label: str
    help: str
    unit: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False  # minimum itself is refused (a rate of 0, a mean of 0)
    choices: tuple[str, ...] = ()
    live: bool = True  # may change while a run goes on
    shown_when: tuple[str, tuple[str, ...]] | None = None  # (sibling knob, values) it matters for
    in_file: bool = True  # False: derived data (a loaded trace), never written to TOML
    step: float | None = None  # a sensible increment for a spin box
    tick: float | None = None  # smallest nonzero magnitude (core.limits.TICK for times)
    why: str = ""  # why the bounds are where they are, said with a refusal

    def check(self, value: Any, kind: type) -> str | None:
        """Why `value` is not acceptable for this knob, or None when it is."""
        if kind in (int, float) and isinstance(value, (int, float)):
            why = reason(value, maximum=self.maximum, tick=self.tick,
                         **({"above": self.minimum} if self.exclusive_minimum
                            else {"minimum": self.minimum}))
            if why is not None:
                return f"{why}: {self.why}" if self.why else why
        if self.choices and value not in self.choices:
            return f"must be one of {' | '.join(self.choices)} (got {value!r})"
        return None


def knob(default: Any, label: str, help: str, **spec: Any) -> Any:
    """Declare a dataclass field that is a knob: its default plus its description."""
    if isinstance(default, (list, tuple)):
        value = tuple(default)
        return field(default_factory=lambda: value, metadata={"knob": Knob(label, help, **spec)})
    return field(default=default, metadata={"knob": Knob(label, help, **spec)})
