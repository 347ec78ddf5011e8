"""Any stored body either decodes to a task that can be written back, or is refused with
`UndecodableTask` naming why; never another exception (a worker would crash on it)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.task import UNDECODABLE, Attempt, DeadLetter, Outcome, Task, UndecodableTask
from queuelab.core.undecodable import RAW_LIMIT, stand_in, try_decode, undecodable

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
task_keys = st.sampled_from(
    ["id", "payload", "priority", "created_at", "attempts", "poison", "history"]
)
task_like = st.dictionaries(task_keys, json_values, max_size=7)

BAD_BODIES = [
    b"",
    b"not json",
    b"\xff\xfe",
    b"null",
    b"[]",
    b"[1, 2]",
    b'"t1"',
    b"42",
    b"{}",
    b'{"payload": 1}',
    b'{"id": 7}',
    b'{"id": ""}',
    b'{"id": "t1", "priority": "high"}',
    b'{"id": "t1", "priority": 1.5}',
    b'{"id": "t1", "priority": 1e300}',
    b'{"id": "t1", "history": 3}',
    b'{"id": "t1", "history": "abc"}',
    b'{"id": "t1", "history": [1]}',
    b'{"id": "t1", "history": [{"number": 1}]}',
    b'{"id": "t1", "created_at": NaN}',
    b'{"id": "t1", "created_at": 1e400}',
    b'{"id": "t1", "attempts": -1}',
    b'{"id": "t1", "poison": "yes"}',
    b"[" * 100_000,
]


@pytest.mark.parametrize("body", BAD_BODIES, ids=lambda b: repr(b[:30]))
def test_a_malformed_body_is_refused_as_undecodable(body: bytes) -> None:
    with pytest.raises(UndecodableTask) as caught:
        Task.from_json(body)
    assert 0 < len(str(caught.value)) < 200  # one bounded line, whatever the body


def _round_trips(task: Task) -> None:
    again = Task.from_json(task.to_json())  # what a nack or dead letter writes back
    assert again.to_dict() == task.to_dict()


@settings(max_examples=400, deadline=None)
@given(task_like | json_values)
def test_any_json_decodes_to_a_writable_task_or_is_undecodable(value: object) -> None:
    text = json.dumps(value)
    got = try_decode(text)
    if isinstance(got, Task):
        _round_trips(got)
    else:
        assert isinstance(got, UndecodableTask)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200) | st.text(max_size=200))
def test_any_bytes_decode_or_are_undecodable(raw: bytes | str) -> None:
    got = try_decode(raw)
    assert isinstance(got, (Task, UndecodableTask))


def test_what_to_json_writes_still_decodes() -> None:
    task = Task("t1", {"n": 1}, priority=3, created_at=1.5, attempts=2, poison=True)
    task.history.append(Attempt(1, 0.5, 1.0, Outcome.FAILED, "Boom", "x", 0.25, "w1"))
    _round_trips(task)
    _round_trips(Task("t2"))
    dead = DeadLetter(task, "Boom", "x", 3.0)
    assert DeadLetter.from_dict(json.loads(json.dumps(dead.to_dict()))).to_dict() == dead.to_dict()


def test_the_stand_in_keeps_the_raw_body_bounded() -> None:
    huge = b"{" + b"x" * (RAW_LIMIT * 10)
    dead = undecodable(huge, "t9", "not JSON")
    assert dead.error_kind == UNDECODABLE == "UndecodableTask"
    assert dead.task.id == "t9"
    assert dead.task.payload["bytes"] == len(huge)
    assert len(dead.task.payload["raw"]) == RAW_LIMIT + 1  # the cut is marked with "…"
    assert stand_in(b"\xffnull", "t1").payload == {"raw": "\ufffdnull", "bytes": 5}
    _round_trips(dead.task)
