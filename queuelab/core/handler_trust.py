"""Whether a scenario's handler may be imported: importing a module runs its code.

A scenario is a file people share, and `service.handler = "pkg.module:function"` makes a
live run import `pkg.module`. The CLI imports it only with `--allow-handler` or when the
module is one the user trusts in their own configuration (the `QUEUELAB_TRUSTED_MODULES`
environment variable: module names, a name trusting its submodules too); the app asks
before a scenario file's first live run and remembers the answer. Simulated runs and
`scenario check` never import it.
"""

from __future__ import annotations

from collections.abc import Iterable

TRUSTED_ENV = "QUEUELAB_TRUSTED_MODULES"


def handler_module(name: str) -> str:
    """The module a handler name makes a run import: `pkg.mod` for `pkg.mod:function`."""
    return name.strip().partition(":")[0].strip()


def trusted_modules(setting: str) -> tuple[str, ...]:
    """The module names in a trusted-modules setting (comma or space separated)."""
    return tuple(m for m in setting.replace(",", " ").split() if m)


def is_trusted(name: str, trusted: Iterable[str]) -> bool:
    """True when no code would be imported, or the module is (under) a trusted one."""
    module = handler_module(name)
    if not module:
        return True
    return any(module == t or module.startswith(t + ".") for t in trusted)


def refusal(name: str, flag: str = "--allow-handler") -> str:
    """Why a run does not import the handler, naming the module and the way to allow it."""
    return (f"service.handler: this scenario would import the module "
            f"{handler_module(name)!r} and run its code; pass {flag} if you trust it, or "
            f"name the module in {TRUSTED_ENV}")
