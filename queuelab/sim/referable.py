"""A plain Python base class, so the compiled engine can be weakly referenced.

mypyc's native classes have no `__weakref__` slot and no `__dict__`; one that inherits a
class of interpreted Python gets both. The desktop app keeps engines in weak registries
(`gui.runner`, `gui.engines`), and its tests replace an engine's method on the instance,
so `SimEngine` inherits this. Not compiled, on purpose (`queuelab.native.COMPILED`).
"""


class Referable:
    """Nothing of its own: being interpreted Python is the point."""
