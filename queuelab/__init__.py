"""QueueLab: a desktop laboratory for task queues."""

__version__ = "0.1.0"
