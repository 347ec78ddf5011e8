"""amqp:// without a broker: URL options, the delay ladder's arithmetic, the wire format."""

from __future__ import annotations

import json

import pamqp.frame
import pytest
from aiormq import spec
from hypothesis import given
from hypothesis import strategies as st
from pamqp.body import ContentBody
from pamqp.header import ContentHeader

from queuelab.backends import BackendError, open_queue
from queuelab.backends.amqp import AmqpQueue
from queuelab.backends.amqp.frames import TaskPublish
from queuelab.backends.amqp.options import parse
from queuelab.backends.amqp.topology import LEVELS, MAX_DELAY, Names, delay_key, delay_ticks
from queuelab.backends.amqp.wire import (
    TASK_JSON_START,
    Redeliveries,
    dead_message,
    dead_properties,
    decode_dead,
    encode_dead,
    headed_task_id,
    task_json_end,
    task_properties,
)
from queuelab.core.task import UNDECODABLE, Attempt, DeadLetter, Outcome, Task


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


_text = st.text(max_size=12)  # any code point: escapes and non-ASCII in the JSON
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_time = st.floats(0, 1e6)  # a task's times are finite (JSON has no Infinity)
_dead = st.builds(
    DeadLetter,
    task=st.builds(
        Task,
        id=_text.filter(bool),
        payload=_json,
        priority=st.integers(-5, 12),
        attempts=st.integers(0, 9),
        history=st.lists(st.builds(
            Attempt, number=st.integers(1, 9), started=_time, ended=st.none() | _time,
            outcome=st.just(Outcome.FAILED), error=_text, backoff=st.none() | _time,
        ), max_size=2),
        created_at=_time,
    ),
    error_kind=_text,
    error=_text,
    dead_lettered_at=st.floats(0, 1e6),
)


@given(_dead)
def test_a_dead_letter_body_holds_its_task_json_where_the_headers_say(dead: DeadLetter) -> None:
    """The body is exactly `DeadLetter.to_dict()` as compact JSON (one rule: older readers
    decode it as before), and the headers locate the task's own JSON in it."""
    body, size = dead_message(dead)
    assert body == json.dumps(dead.to_dict(), separators=(",", ":"), allow_nan=False).encode()
    props = dead_properties("m", dead, size, 3)
    headed = headed_task_id(props.headers)
    assert headed == (dead.id, size) and props.priority == 3
    end = task_json_end(body, *headed)
    assert body[TASK_JSON_START:end] == dead.task.to_json().encode()
    assert decode_dead(body, "m", props.headers) == dead


def test_a_body_that_does_not_read_as_its_headers_say_is_decoded_instead() -> None:
    dead = DeadLetter(Task("t1", payload={"id": "t2"}), "E", "bad", 1.0)
    body, size = dead_message(dead)
    assert task_json_end(body, "t1", size) > 0
    assert task_json_end(body, "t2", size) == 0  # another task's id
    assert task_json_end(body, "t1", size - 1) == 0  # another length
    assert task_json_end(body, "t1", size + 5) == 0
    assert task_json_end(body[:-1], "t1", size) == 0  # cut short
    assert task_json_end(Task("t1").to_json().encode(), "t1", size) == 0  # a task body
    for headers in (None, {}, {"queuelab-task-id": "t1"}, {"queuelab-task-id": 1,
                                                           "queuelab-task-bytes": size}):
        assert headed_task_id(headers) is None  # type: ignore[arg-type]
    assert dead_properties("m").headers is None  # without the dead letter: no headers


@pytest.mark.parametrize("priority", [None, 0, 7])
@pytest.mark.parametrize("size", [0, 1, 99, 100, 250])
def test_a_task_publish_is_the_bytes_pamqp_would_write(priority: int | None, size: int) -> None:
    body = bytes(range(256))[:size]
    publish = TaskPublish(3, "queuelab.jobs", content_size=100)
    props = task_properties("a1b2.42", priority)
    frames = [
        spec.Basic.Publish(exchange="", routing_key="queuelab.jobs"),
        ContentHeader(properties=props, body_size=size),
        *(ContentBody(body[i:i + 100]) for i in range(0, size, 100)),
    ]
    expected = b"".join(pamqp.frame.marshal(f, 3) for f in frames)
    assert publish(body, "a1b2.42", priority) == expected
    with pytest.raises(ValueError, match="longer than 255"):
        publish(body, "x" * 256, priority)
