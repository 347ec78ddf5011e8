"""The monitor engine: a read-only watch of a real queue (see `engine.py`)."""
