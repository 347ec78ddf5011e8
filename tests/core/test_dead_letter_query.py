"""The one dead-letter query rule (core/dead_letter_query.py) and the simulator's shortcut."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from queuelab.core.dead_letter_query import check, page_of, payload_text, window
from queuelab.core.payload import synthetic_payload, synthetic_payload_search
from queuelab.core.task import DeadLetter, DeadLetterQuery, Task

# needles built from what the text holds, so that they often hit and straddle its parts
_PIECES = st.sampled_from(['{"n": ', ", ", '"priority": ', '"pad": "', '"}', "queuelab-",
                           "q", "-", '"', ":", " ", "1", "2", "0", "9", "n", "x"])


@given(
    needle=st.lists(_PIECES, min_size=1, max_size=5).map("".join)
    | st.text(alphabet='{}":, -0123456789npriotyadquelb', min_size=1, max_size=12),
    number=st.integers(0, 10**9),
    priority=st.integers(0, 12),
    size=st.integers(0, 120),
)
def test_the_simulators_payload_search_is_the_payload_text_search(
    needle: str, number: int, priority: int, size: int
) -> None:
    text = payload_text(synthetic_payload(number, priority, size))
    assert text == text.lower()
    assert synthetic_payload_search(size, needle)(number, priority) == (needle in text)


def _dead(tid: str, at: float, priority: int, kind: str = "E") -> DeadLetter:
    return DeadLetter(Task(id=tid, payload={"v": tid}, priority=priority), kind, "x", at)


def test_ties_are_broken_by_id_the_same_way() -> None:
    dead = [_dead("b", 1.0, 0), _dead("c", 0.0, 1), _dead("a", 1.0, 1), _dead("d", 1.0, 0)]

    def ids(**q: object) -> list[str]:
        return [d.id for d in page_of(dead, DeadLetterQuery(**q)).items]  # type: ignore[arg-type]

    assert ids() == ["c", "a", "b", "d"]
    assert ids(descending=True) == ["d", "b", "a", "c"]
    assert ids(order_by="priority") == ["b", "d", "a", "c"]
    assert ids(order_by="priority", descending=True) == ["c", "a", "d", "b"]


def test_a_match_never_spans_two_fields() -> None:
    dead = [DeadLetter(Task(id="t1", payload=None), "Kind", "boom", 0.0)]
    assert page_of(dead, DeadLetterQuery(text="kind")).total_matching == 1
    assert page_of(dead, DeadLetterQuery(text="t1kind")).total_matching == 0
    assert page_of(dead, DeadLetterQuery(text="null")).total_matching == 1  # JSON of None


def test_bounds_and_columns() -> None:
    assert window(DeadLetterQuery(offset=-3, limit=-1)) == (0, 0)
    with pytest.raises(ValueError, match="order_by: unknown column 'payload'"):
        check(DeadLetterQuery(order_by="payload"))
    assert payload_text({"name": "Été"}) == '{"name": "Été"}'
