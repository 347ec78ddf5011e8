"""Monitor in the window: chosen in the toolbar beside Simulated and Live, it watches a real
RQ queue on the same plots (in flight among them), says in the status bar how it reads, and
an unreachable source is a message and a gap while polling goes on."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from queuelab.core.engine import RunState
from queuelab.core.validation import ParamChange
from queuelab.gui.engines import MONITOR, SIMULATED

from ..monitor.helpers import on_server, unique
from .helpers import wait_until


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The history files go to this test's folder, not the user's data folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def watch(window: Any, url: str) -> None:
    assert window.choose_backend(url) is None
    assert window._submit_change(ParamChange("run.sample_interval", 0.5)) is None
    window.set_mode(MONITOR)
    assert window.runner.kind == MONITOR and window.runner.engine.kind == MONITOR
    assert window.controls.mode_actions[MONITOR].isChecked()
    window.toggle_run()


@on_server("redis")
@pytest.mark.asyncio
async def test_monitor_an_rq_queue_in_the_window(window: Any, tmp_path: Path) -> None:
    import redis
    import rq

    r = redis.Redis()
    q = unique("gui")
    queue = rq.Queue(q, connection=r)
    jobs = [queue.enqueue("tests.monitor.rq_jobs.quick") for _ in range(7)]
    try:
        watch(window, f"redis://127.0.0.1:6379/0?queue={q}")
        await wait_until(lambda: window.runner.engine.state == RunState.RUNNING, 20,
                         "the monitor runs")
        await wait_until(lambda: window.history.last("depth", 1).size > 0
                         and window.history.last("depth", 1)[0] == 7, 20, "depth 7 plotted")
        await wait_until(lambda: "RQ layout on Redis" in window.message.text(), 20,
                         "the status bar says how it reads")
        assert "watching every 0.5 s" in window.state_label.text()
        assert window.controls.clock.text().startswith("watching for ")
        assert not any(a.isEnabled() for a in window.controls.speed_actions.values())
        curve = window.plots.plots["queue"].curves[0].item
        assert curve.opts["connect"] == "finite"  # gaps break the line in monitor mode
        names = [c.series.name for c in window.plots.plots["queue"].curves]
        assert "in flight" in names
        assert "flow balance" in window.plots.plots["throughput"].plot.toolTip()
        files = list((tmp_path / "data").rglob("*.sqlite"))
        assert len(files) == 1  # the history of this source
        window.set_mode(SIMULATED)
        assert window.plots.plots["queue"].curves[0].item.opts["connect"] == "all"
    finally:
        r.delete(f"rq:queue:{q}", *(f"rq:job:{j.id}" for j in jobs))
        r.srem("rq:queues", f"rq:queue:{q}")


@pytest.mark.asyncio
async def test_an_unreachable_source_is_a_message_and_a_gap(window: Any) -> None:
    watch(window, "redis://:hush-hush@127.0.0.1:1/0?queue=nowhere")
    await wait_until(lambda: "unreachable" in window.message.text(), 20, "the message")
    assert "hush-hush" not in window.message.text()
    await wait_until(lambda: window.history.last("depth", 2).size == 2, 20, "two polls")
    assert all(math.isnan(v) for v in window.history.last("depth", 2))
    assert window.runner.engine.state == RunState.RUNNING  # polling goes on by itself
    # a watched queue's arrivals are nobody's scenario: no offered λ(t), nor its entry
    assert all(math.isnan(v) for v in window.history.last("offered", 2))
    window.plots.redraw(force=True)
    assert "offered λ(t)" not in window.plots.plots["throughput"].legend.names


@pytest.mark.asyncio
async def test_alerts_raise_a_notification_and_a_marker(window: Any) -> None:
    from queuelab.core.monitoring import AlertRules, Sample

    watch(window, "redis://127.0.0.1:1/0?queue=nowhere")
    engine = window.runner.engine
    engine._alerts.rules = AlertRules(backlog=5)
    engine._record(Sample(t=1.0, ready=9), 1.0)
    window.refresh()
    assert window.monitor.notified == ["Queue alert: backlog 9 is above 5"]
    assert engine.changes[-1].label() == "alert: backlog 9 is above 5"
    await engine.stop()


@pytest.mark.asyncio
async def test_simulate_this_traffic_opens_a_replay(window: Any) -> None:
    import time

    from queuelab.core.monitoring import Rates, Sample

    watch(window, "redis://127.0.0.1:1/0?queue=nowhere")
    engine = window.runner.engine
    await wait_until(lambda: engine.polls >= 1, 20, "a first poll")
    assert window.monitor.simulate_action.isEnabled()
    now = time.time()
    for k in range(120):  # two minutes recorded: 3 arrivals/s, 2 in flight, 4 done/s
        s = Sample(t=now + k, ready=5, in_flight=2, consumers=1)
        engine.history.add(s, Rates(3.0, 4.0))
    window.plots.set_window(None)
    window.plots._first.getViewBox().setXRange(0, 125, padding=0)
    assert window.simulate_traffic()
    assert window.runner.kind == SIMULATED
    s = window.scenario
    assert s.arrivals.process == "trace" and "estimated" in s.name
    assert s.service.mean == pytest.approx(0.5) and s.pool.workers == 2
    assert len(s.arrivals.trace_times) == pytest.approx(3 * 119, abs=3)
    assert "estimate" in window.message.text()


@pytest.mark.asyncio
async def test_history_range_picker_shows_the_past(window: Any) -> None:
    import time

    watch(window, "redis://127.0.0.1:1/0?queue=nowhere")
    engine = window.runner.engine
    await wait_until(lambda: engine.polls >= 1, 20, "a first poll")
    now = time.time()
    rows = [(now - 86400 + 60.0 * k, 0.0, 7.0, 1.0, 0.0, 0.0, 2.0, 1.0, 1.0, None, None, 1)
            for k in range(1440)]  # the past day, a sample a minute, depth 7
    engine.history.add_rows(rows)
    hour, day = window.monitor.range_actions[0], window.monitor.range_actions[1]
    assert day.isEnabled()
    day.trigger()
    depth = window.history.last("depth", 5000)
    assert 1400 <= depth.size <= 2100 and 7.0 in depth
    hour.trigger()
    assert window.history.last("depth", 5000).size <= 80


@pytest.mark.asyncio
async def test_export_the_history_shown(window: Any, tmp_path: Path) -> None:
    import csv
    import time

    from queuelab.core.monitoring import Rates, Sample

    watch(window, "redis://:pw-in-url@127.0.0.1:1/0?queue=nowhere")
    engine = window.runner.engine
    await wait_until(lambda: engine.polls >= 1, 20, "a first poll")
    assert window.monitor.export_action.isEnabled()
    now = time.time()
    for k in range(30):
        engine.history.add(Sample(t=now + k, ready=k, in_flight=1), Rates(1.0, 1.0))
    window.plots.set_window(None)
    window.plots._first.getViewBox().setXRange(10, 20, padding=0)
    out = tmp_path / "h.csv"
    assert window.export_history(out)
    rows = [r for r in csv.DictReader(out.open()) if r["reachable"] == "1"]
    assert [r["ready"] for r in rows][:3] == ["10", "11", "12"] and len(rows) <= 11
    assert "pw-in-url" not in out.read_text()


@on_server("rabbitmq")
@pytest.mark.asyncio
async def test_pick_a_rabbitmq_queue_from_the_list(window: Any) -> None:
    import aio_pika

    names = [unique("pick-a"), unique("pick-b")]
    conn = await aio_pika.connect("amqp://guest:guest@127.0.0.1/")
    ch = await conn.channel()
    for n in names:
        await ch.declare_queue(n, auto_delete=False)
    try:
        watch(window, f"amqp://guest:guest@127.0.0.1:5672/%2F?queue={names[0]}")
        await wait_until(lambda: window.monitor.pick_action.isEnabled(), 20, "the action")
        window.monitor.pick_action.trigger()
        await wait_until(lambda: window.monitor.picker is not None, 30, "the list")
        picker = window.monitor.picker
        items = picker.comboBoxItems()
        choice = next(i for i in items if i.startswith(names[1] + " "))
        picker.textValueSelected.emit(choice)
        assert window.runner.engine.source.queue == names[1]
        assert window.runner.engine.kind == MONITOR
        assert names[1] in window.scenario.queue.backend
    finally:
        for n in names:
            await ch.queue_delete(n)
        await conn.close()


@pytest.mark.asyncio
async def test_a_custom_history_range_from_and_to(window: Any) -> None:
    import time

    watch(window, "redis://127.0.0.1:1/0?queue=nowhere")
    engine = window.runner.engine
    await wait_until(lambda: engine.polls >= 1, 20, "a first poll")
    now = time.time()
    rows = [(now - 86400 + 60.0 * k, 0.0, 7.0, 1.0, 0.0, 0.0, 2.0, 1.0, 1.0, None, None, 1)
            for k in range(1440)]  # the past day, a sample a minute
    engine.history.add_rows(rows)
    assert window.monitor.custom_action.isEnabled()
    dialog = window.monitor.ask_range()
    dialog.start_edit.setDateTime(dialog.start_edit.dateTime().fromSecsSinceEpoch(
        int(now - 6 * 3600)))
    dialog.end_edit.setDateTime(dialog.end_edit.dateTime().fromSecsSinceEpoch(
        int(now - 3 * 3600)))
    dialog.accept()
    depth = window.history.last("depth", 5000)
    assert 170 <= depth.size <= 190, "three hours of one-minute samples"
    assert window.monitor.show_range(now, now - 60) == 0  # backwards: said, nothing drawn
    assert "must end after it starts" in window.message.text()
    await engine.stop()


@pytest.mark.asyncio
async def test_alert_rules_are_set_in_the_window_and_kept(window: Any) -> None:
    from queuelab.core.monitoring import Sample
    from queuelab.gui.monitor_view import saved_alert_rules

    watch(window, "redis://127.0.0.1:1/0?queue=nowhere")
    engine = window.runner.engine
    dialog = window.monitor.ask_alert_rules()
    dialog.backlog_edit.setValue(5)
    dialog.growing_edit.setValue(2.5)
    dialog.accept()
    assert engine.rules.backlog == 5 and engine.rules.growing_minutes == 2.5
    assert saved_alert_rules().backlog == 5  # the next watch starts with them
    engine._record(Sample(t=1.0, ready=9), 1.0)
    window.refresh()
    assert window.monitor.notified == ["Queue alert: backlog 9 is above 5"]
    await engine.stop()
