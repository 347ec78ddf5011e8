"""QueueLab: a desktop laboratory for task queues."""

from queuelab import native as _native

__version__ = "0.1.0"

_native.guard()  # before any compiled module can be imported: stale compiled code never runs
