"""Counts that lag say so: `QueueCounts.approximate` travels to what a person reads.

The broker side (RabbitMQ's counts from a process that does not consume) is checked in
tests/backends/test_amqp_broker.py; here, what the flag becomes where counts are shown.
"""

from __future__ import annotations

from queuelab.backends.base import QueueCounts
from queuelab.commands.run import found_message
from queuelab.core.engine import FoundTasks


def test_the_flag_is_said_and_leaves_the_figures_alone() -> None:
    exact = QueueCounts(7, 0, 3, 1)
    lagging = QueueCounts(7, 0, 3, 1, approximate=True, reason="the statistics lag")
    assert exact == lagging and exact.total == lagging.total == 11
    assert exact.caveat == ""
    assert lagging.caveat == " (approximate: the statistics lag)"
    assert QueueCounts(1, 0, 0, 0, approximate=True).caveat == " (approximate)"


def test_the_cli_says_what_it_found_is_approximate() -> None:
    found = FoundTasks(waiting=7, in_flight=3, approximate=True)
    text = found_message(None, found)
    assert "7 waiting" in text and "approximate" in text
    assert "approximate" not in found_message(None, FoundTasks(waiting=7, in_flight=3))

