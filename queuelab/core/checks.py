"""Every knob check, in one place and one style: `<name>: <rule> (got <value>)`.

A value is refused in the same words wherever it comes from: the scenario reader and the
GUI form (`core.knobs.Knob.check`, through `reason`), a change made while running, or a
policy or load model built directly (tests, the live runtime) through `number`, `integer`,
`known`. For example `capacity: must be >= 1 (got 0)`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real


def shown(x: object) -> str:
    """A number as a refusal shows it (`2.5`, `1e+06`, `3`), anything else as its repr."""
    if isinstance(x, float):
        return f"{x:g}"
    if isinstance(x, Integral) and not isinstance(x, bool):
        return str(x)
    return repr(x)


def reason(value: float, *, minimum: float | None = None, above: float | None = None,
           maximum: float | None = None, tick: float | None = None) -> str | None:
    """Why the number `value` is out of range, or None when it is in.

    `tick` is the smallest nonzero magnitude (`core.limits.TICK` for times): 5e-324 s is
    a typo, and as a delay or an interval it makes a run that never advances.
    """
    if not math.isfinite(value):
        return f"must be a finite number (got {shown(value)})"
    if above is not None and not value > above:
        return f"must be > {shown(above)} (got {shown(value)})"
    if minimum is not None and not value >= minimum:
        return f"must be >= {shown(minimum)} (got {shown(value)})"
    if maximum is not None and not value <= maximum:
        return f"must be <= {shown(maximum)} (got {shown(value)})"
    if tick is not None and value != 0 and abs(value) < tick:
        return f"must be 0 or >= {shown(tick)} (got {shown(value)})"
    return None


def number(name: str, value: object, *, minimum: float | None = None,
           above: float | None = None, maximum: float | None = None,
           tick: float | None = None) -> float:
    """`value` as a float when it is a finite number in range, else ValueError naming it.

    `minimum` and `maximum` are inclusive bounds, `above` a strict one.
    """
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{name}: must be a number (got {value!r})")
    x = float(value)
    why = reason(x, minimum=minimum, above=above, maximum=maximum, tick=tick)
    if why is not None:
        raise ValueError(f"{name}: {why}")
    return x


def integer(name: str, value: object, *, minimum: int | None = None,
            maximum: int | None = None) -> int:
    """`value` when it is a whole number (not a bool) in [minimum, maximum], else ValueError."""
    # a plain int first: the ABC check costs ~2 us, and the simulator checks every
    # autoscaler observation (core.policies.autoscale.PoolObservation)
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, Integral)):
        raise ValueError(f"{name}: must be a whole number (got {value!r})")
    n = int(value)
    if minimum is not None and n < minimum:
        raise ValueError(f"{name}: must be >= {minimum} (got {n})")
    if maximum is not None and n > maximum:
        raise ValueError(f"{name}: must be <= {maximum} (got {n})")
    return n


def known(kind: str, knobs: dict[str, object], names: tuple[str, ...]) -> None:
    """Refuse knob names the `kind` (a policy) does not have, naming the ones it does."""
    for name in knobs:
        if name not in names:
            raise ValueError(f"{name}: not a knob of the {kind} (known: {', '.join(names)})")
