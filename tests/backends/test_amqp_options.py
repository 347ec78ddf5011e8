"""amqp:// without a broker: URL options, the delay ladder's arithmetic, the wire format."""

from __future__ import annotations

import pytest

from queuelab.backends import BackendError, open_queue
from queuelab.backends.amqp import AmqpQueue
from queuelab.backends.amqp.options import parse
from queuelab.backends.amqp.topology import LEVELS, MAX_DELAY, Names, delay_key, delay_ticks
from queuelab.backends.amqp.wire import Redeliveries, decode_dead, encode_dead
from queuelab.core.task import UNDECODABLE, DeadLetter, Task


def test_options_come_from_the_url_and_keywords() -> None:
    q = open_queue(
        "amqp://guest:s3cret@127.0.0.1:5672/lab?queue=jobs&discipline=priority&prefetch=7",
        prefetch=9,
    )
    assert isinstance(q, AmqpQueue)
    assert (q.options.queue, q.discipline, q.prefetch) == ("jobs", "priority", 9)
    assert q.url == "amqp://guest:***@127.0.0.1:5672/lab?queue=jobs&discipline=priority&prefetch=7"
    assert q.names.main == "queuelab.jobs"


def test_driver_options_pass_through_and_ours_stay_out() -> None:
    url, opts = parse(
        "amqp://u:p@h:1/v?queue=q&heartbeat=5", {"queue": "q", "heartbeat": "5", "prefetch": 3}
    )
    assert url == "amqp://u:p@h:1/v?heartbeat=5"
    assert opts.prefetch == 3 and opts.queue == "q"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("amqp://h/?disciplin=priority", r"does not know the option\(s\) disciplin"),
        ("amqp://h/?discipline=lifo", "discipline must be one of fifo, priority"),
        ("amqp://h/?prefetch=0", "prefetch must be 1..65535"),
        ("amqp://h/?prefetch=many", "prefetch must be a number"),
        ("amqp://h/?queue=a%20b", "queue must be"),
        ("amqp://h/?queue=.hidden", "queue must be"),
        ("amqp://h/?publish_timeout=0", "publish_timeout must be > 0"),
    ],
)
def test_bad_options_are_refused_with_what_is_wrong(url: str, message: str) -> None:
    with pytest.raises(BackendError, match=message):
        open_queue(url)


def test_delays_are_whole_ticks_spelled_in_binary() -> None:
    assert delay_ticks(0.001) == 1  # any positive delay waits at least one tick
    assert delay_ticks(0.35) == 35
    assert delay_ticks(MAX_DELAY) == (1 << LEVELS) - 1
    with pytest.raises(ValueError, match="longer than"):
        delay_ticks(MAX_DELAY + 1)
    key = delay_key(35).split(".")
    assert len(key) == LEVELS
    assert int("".join(key), 2) == 35  # most significant level first


def test_names_of_the_broker_objects() -> None:
    n = Names("jobs")
    assert (n.main, n.dead, n.delay(0), n.delay_entry) == (
        "queuelab.jobs",
        "queuelab.jobs.dead",
        "queuelab.jobs.delay.0",
        "queuelab.jobs.delay.23",
    )
    assert len(n.queues) == 2 + LEVELS


def test_dead_letter_bodies_of_every_origin_decode() -> None:
    dead = DeadLetter(Task("t1", payload={"a": 1}, attempts=3), "ValueError", "bad", 4.5)
    assert decode_dead(encode_dead(dead), "m1", None) == dead
    # a task body: the broker dead-lettered it (another client rejected it)
    broker = decode_dead(Task("t2").to_json().encode(), "m2", {"x-death": [{"reason": "rejected"}]})
    assert (broker.id, broker.error_kind, broker.error) == (
        "t2",
        "BrokerDeadLettered",
        "dead-lettered by the broker (rejected)",
    )
    junk = decode_dead(b"\xffnot json", "m3", None)
    assert junk.id == "amqp:m3" and junk.error_kind == UNDECODABLE
    assert junk.task.payload == {"raw": "\ufffdnot json", "bytes": 9}
    # JSON of another shape is undecodable too (`null` made the listing itself raise)
    for body in (b"null", b"[1]", b'{"id": 3}', b'{"task": null}'):
        assert decode_dead(body, "m4", None).error_kind == UNDECODABLE


def test_redeliveries_remember_what_was_given_back() -> None:
    r = Redeliveries()
    r.gave_back("a", 0)  # only prefetched: no attempt to count
    r.gave_back("b", 2)  # claimed twice here, both abandoned
    assert r.extra_on_redelivery("a") == 0
    assert r.extra_on_redelivery("b") == 2
    assert r.extra_on_redelivery("unknown") == 1  # the flag alone: one abandoned claim
    r.settle("c")
    assert r.is_duplicate("c", redelivered=True)  # its ack was lost with the connection
    assert not r.is_duplicate("c", redelivered=False)
    r.republishing("d")
    assert not r.is_duplicate("d", redelivered=False)  # the first copy
    assert r.is_duplicate("d", redelivered=False)  # the second copy
    assert not r.is_duplicate("d", redelivered=True)  # a copy coming back is not a copy
