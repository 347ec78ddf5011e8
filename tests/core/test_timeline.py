"""Timelines: reading, validation (the refused field named), writing back, the player."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from queuelab.core.scenario import KNOBS, Scenario
from queuelab.core.scenario_toml import dumps, loads
from queuelab.core.timeline import TimelineEntry, TimelinePlayer, moment_of
from queuelab.core.validation import ParamChange, ScenarioError, field_errors, with_change

HEAD = 'format = 1\nname = "t"\n[run]\nduration = 100.0\n'


def _errors(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        loads(text)
    return [str(e) for e in info.value.errors]


def test_a_timeline_reads_and_writes_back() -> None:
    text = HEAD + ('[[timeline]]\nat = 10\nset = "failures.probability"\nvalue = 1\n'
                   'for = 20\nlabel = "outage"\n\n'
                   '[[timeline]]\nat = 50\nset = "pool.workers"\nvalue = 6\n')
    s = loads(text)
    assert s.timeline == (TimelineEntry(10.0, "failures.probability", 1.0, 20.0, "outage"),
                          TimelineEntry(50.0, "pool.workers", 6))
    assert isinstance(s.timeline[0].value, float)
    assert loads(dumps(s)) == s
    assert loads(dumps(s, comments=False, all_knobs=False)) == s


def test_refusals_name_the_entry_and_its_field() -> None:
    assert _errors(HEAD + '[[timeline]]\nat = 100\nset = "arrivals.rate"\nvalue = 1\n') == [
        "timeline[0].at: must be within the run, 0 <= at < run.duration "
        "(got 100; the run ends at 100)"]
    assert _errors(HEAD + '[[timeline]]\nat = 5\nset = "arrivals.rate"\nvalue = 1\n'
                   '[[timeline]]\nat = 5\nset = "queue.backend"\nvalue = "x"\n') == [
        "timeline[1].set: queue.backend cannot change while a run goes on"]
    (only,) = _errors(HEAD + '[[timeline]]\nat = 5\nset = "failures.probability"\n'
                      'value = 2\n')
    assert only.startswith("timeline[0].value: failures.probability: ")
    (only,) = _errors(HEAD + '[[timeline]]\nat = 5\nset = "arrivals.rate"\nvalue = "x"\n')
    assert only.startswith("timeline[0].value: must be a number")
    (only,) = _errors(HEAD + '[[timeline]]\nat = 90\nset = "arrivals.rate"\nvalue = 1\n'
                      'for = 20\n')
    assert only.startswith("timeline[0].for: the value would be restored at 110 s")
    assert _errors(HEAD + '[[timeline]]\nat = 5\nset = "nope.x"\nvalue = 1\nwhen = 3\n') == [
        "timeline[0].when: unknown key (known: at, set, value, for, label)"]
    # a value in range on its own that clashes with another knob when it is set
    (only,) = _errors(HEAD + '[pool]\nstrategy = "dynamic"\nmax_workers = 5\n'
                      '[[timeline]]\nat = 5\nset = "pool.min_workers"\nvalue = 8\n')
    assert only.startswith("timeline[0].value: pool.max_workers: must be >= pool.min_workers")


def test_the_player_restores_the_value_it_replaced() -> None:
    entries = (TimelineEntry(10.0, "arrivals.rate", 9.0, 5.0, "spike"),
               TimelineEntry(12.0, "arrivals.rate", 7.0))
    player = TimelinePlayer(entries)
    values = {"arrivals.rate": 3.0}
    seen = []
    while (at := player.next_at()) < math.inf:
        assert player.pop(at - 0.5, values.get) is None  # not due yet
        while (due := player.pop(at, values.get)) is not None:
            values[due.path] = due.value
            seen.append((due.at, due.value, due.restore))
    assert seen == [(10.0, 9.0, False), (12.0, 7.0, False), (15.0, 3.0, True)]


_FIXED = [p for p, i in KNOBS.items() if not i.knob.live and i.knob.in_file]
_entry = st.builds(
    TimelineEntry,
    at=st.floats(-50, 250, allow_nan=False),
    path=st.sampled_from(["arrivals.rate", "pool.workers", "failures.probability",
                          *_FIXED[:3], "arrivals.nope"]),
    value=st.sampled_from([0.5, 2.0, 3]),
    duration=st.sampled_from([0.0, 10.0, 150.0]),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_entry, max_size=4))
def test_every_bad_entry_is_refused_by_name(entries: list[TimelineEntry]) -> None:
    """An entry is refused, at the field that is wrong, exactly when it is out of the run,
    sets a knob that is unknown or not live, or sets a value out of the knob's range."""
    base = Scenario(run=replace(Scenario().run, duration=200.0, warmup=0.0))
    s = replace(base, timeline=tuple(entries))
    got = {e.path for e in field_errors(s)}
    expected: set[str] = set()
    for i, e in enumerate(entries):
        info = KNOBS.get(e.path)
        if info is None or not info.knob.live:
            expected.add(f"timeline[{i}].set")
        if not 0 <= e.at < 200:
            expected.add(f"timeline[{i}].at")
        elif e.at + e.duration > 200:
            expected.add(f"timeline[{i}].for")
    if not expected:  # then only a value can be wrong: a probability above 1, half a worker
        expected = {f"timeline[{i}].value" for i, e in enumerate(entries)
                    if (e.path == "failures.probability" and e.value > 1)
                    or (e.path == "pool.workers" and e.value == 0.5)}
    assert got == expected


def test_mid_run_the_entries_already_played_are_history() -> None:
    """A change by hand is checked against the entries still to come, not those played."""
    text = HEAD + ('[pool]\nstrategy = "dynamic"\nmin_workers = 1\nmax_workers = 6\n'
                   '[[timeline]]\nat = 10\nset = "pool.max_workers"\nvalue = 3\n'
                   '[[timeline]]\nat = 60\nset = "pool.max_workers"\nvalue = 4\n')
    s = loads(text)
    raise_min = ParamChange("pool.min_workers", 5)
    with pytest.raises(ScenarioError) as info:  # the entry at 60 would clash with it
        with_change(s, raise_min, running=True, now=20.0)
    assert [e.path for e in info.value.errors] == ["timeline[1].value"]
    assert with_change(s, raise_min, running=True, now=70.0).pool.min_workers == 5


_ENTRIES = st.lists(st.builds(
    TimelineEntry, at=st.integers(0, 6).map(float),
    path=st.sampled_from(["arrivals.rate", "pool.workers"]),
    value=st.integers(1, 9), duration=st.integers(0, 4).map(float)), max_size=8)


@settings(max_examples=200)
@given(_ENTRIES, st.sampled_from([0.0, 0.4]))
def test_moment_of_names_the_change_played_last(entries: list[TimelineEntry],
                                                lag: float) -> None:
    """What the form says of a knob the timeline set: for every change the player plays, the
    moment, entry and kind of the last change of that knob played at that time, found from
    when it was logged (at its moment, or a little after it as the live engine logs)."""
    player = TimelinePlayer(entries)
    played = []
    while (c := player.pop(math.inf, lambda path: 0)) is not None:
        played.append(c)
    for c in played:
        last = [d for d in played if d.path == c.path and d.at == c.at][-1]
        assert moment_of(entries, c.path, c.at + lag) == (last.at, entries[last.index],
                                                          last.restore)
    assert moment_of(entries, "arrivals.rate", -1.0) is None
