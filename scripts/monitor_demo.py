"""Monitor mode on real traffic: the README's screenshots, and a replay checked against
what was recorded.

    .venv/bin/python scripts/monitor_demo.py rabbitmq [--seconds 150] [--out docs/...png]
    .venv/bin/python scripts/monitor_demo.py rq       [--seconds 150] [--out docs/...png]

Each run makes a queue of its own (removed after) on the local server, starts real workers
(a Celery worker with 2 threads on RabbitMQ, or 2 RQ worker processes on Redis) whose tasks
take `--service` seconds, and feeds it from this process in three phases (`--rates`,
tasks/s: light, overload, light), while the app watches it in Monitor mode (offscreen).
At the end it saves the window's pixels, then turns the recorded history into a trace and a
scenario (`io.replay`, 10-second counts), runs it in the simulator and prints the depth
recorded beside the depth simulated, every 10 s.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

AMQP = "amqp://guest:guest@127.0.0.1:5672/%2F"
REDIS = "redis://127.0.0.1:6379/0"


def producer(send: object, rates: list[float], phase: float, stop: threading.Event) -> None:
    """Poisson arrivals at each phase's rate, `phase` seconds per phase."""
    rng = random.Random(7)
    began = time.monotonic()
    while not stop.is_set():
        k = int((time.monotonic() - began) // phase)
        if k >= len(rates):
            return
        time.sleep(rng.expovariate(rates[k]))
        send()  # type: ignore[operator]


def start_workers(kind: str, q: str) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kind == "rabbitmq":
        cmd = [sys.executable, "-m", "celery", "-A", "scripts.monitor_demo_jobs", "worker",
               "-Q", q, "--pool", "threads", "-c", "2", "--prefetch-multiplier", "1",
               "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "warning"]
        return [subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)]
    return [subprocess.Popen([sys.executable, "-m", "rq.cli", "worker", "-u", REDIS, q],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL) for _ in range(2)]


async def watch_in_window(url: str, seconds: float, out: Path, data: Path) -> None:
    from queuelab.core.validation import ParamChange
    from queuelab.gui.engines import MONITOR
    from queuelab.gui.main_window import MainWindow

    window = MainWindow(restore=False)
    window.resize(1400, 900)
    window.show()
    assert window.choose_backend(url) is None
    assert window._submit_change(ParamChange("run.sample_interval", 1.0)) is None
    window.set_mode(MONITOR)
    window.toggle_run()
    window.plots.set_window(None)  # the whole watch
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        await asyncio.sleep(0.5)
    window.refresh()
    for _ in range(10):
        await asyncio.sleep(0.05)
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"saved {out}; status: {window.message.text()}")
    await window.runner.shutdown()
    window.close()


def compare(data: Path, url: str, interval: float) -> None:
    """The recorded history replayed in the simulator: depth side by side."""
    from queuelab.io.history import HistoryStore, history_path
    from queuelab.io.replay import write_replay
    from queuelab.io.scenario_files import load_scenario
    from queuelab.sim.engine import SimEngine

    store = HistoryStore(history_path(url, data / "QueueLab" / "monitor"), prune=False)
    trace, scen = data / "trace.csv", data / "replay.toml"
    print(write_replay(store, trace, interval=interval, scenario_path=scen))
    recorded = store.load()
    s = load_scenario(scen)
    engine = SimEngine(s)
    engine.start()
    while engine.step():
        pass
    frames = engine.take_frames()
    t0 = recorded["t"][0]
    print(f"{'t (s)':>6} {'recorded ready':>15} {'simulated waiting':>18}")
    sim_t = [f.t for f in frames]
    for k in range(0, int(recorded["t"][-1] - t0) + 1, 10):
        i = min(range(len(recorded["t"])), key=lambda j: abs(recorded["t"][j] - t0 - k))
        j = min(range(len(sim_t)), key=lambda n: abs(sim_t[n] - k)) if sim_t else None
        rec = recorded["ready"][i]
        sim = frames[j].depth if j is not None else math.nan
        print(f"{k:>6} {'-' if math.isnan(rec) else f'{rec:.0f}':>15} {sim:>18}")
    store.close()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("kind", choices=("rabbitmq", "rq"))
    p.add_argument("--seconds", type=float, default=150.0)
    p.add_argument("--service", type=float, default=0.25)
    p.add_argument("--rates", default="4,12,3")
    p.add_argument("--out", type=Path)
    ns = p.parse_args()
    rates = [float(x) for x in ns.rates.split(",")]
    out = ns.out or ROOT / "docs" / f"monitor-{ns.kind}.png"
    q = f"ql-demo-{ns.kind}-{os.getpid()}-{secrets.token_hex(3)}"
    data = Path(tempfile.mkdtemp(prefix="ql-monitor-demo-"))
    os.environ["XDG_DATA_HOME"] = str(data)  # the history goes there, not to the user's
    stop = threading.Event()
    workers = start_workers(ns.kind, q)
    if ns.kind == "rabbitmq":
        from scripts.monitor_demo_jobs import app

        url = f"{AMQP}?queue={q}"
        def send() -> None:
            app.send_task("monitor_demo.work", args=(ns.service,), queue=q)
    else:
        import redis
        import rq

        conn = redis.Redis.from_url(REDIS)
        rq_queue = rq.Queue(q, connection=conn)
        url = f"{REDIS}?queue={q}"
        def send() -> None:
            rq_queue.enqueue("scripts.monitor_demo_jobs.rq_work", ns.service,
                             result_ttl=60, ttl=600)
    time.sleep(3.0)  # the workers are up and the queue declared
    feeder = threading.Thread(target=producer, args=(send, rates, ns.seconds / 3, stop),
                              daemon=True)
    feeder.start()
    try:
        import qasync
        from PySide6.QtWidgets import QApplication

        app_qt = QApplication.instance() or QApplication([])
        loop = qasync.QEventLoop(app_qt)
        with loop:
            loop.run_until_complete(watch_in_window(url, ns.seconds, out, data))
        compare(data, url, 10.0)
    finally:
        stop.set()
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=30)
        if ns.kind == "rabbitmq":
            from kombu import Connection

            with Connection(AMQP.replace("%2F", "/")) as c:
                c.default_channel.queue_delete(q)
        else:
            for k in conn.scan_iter(match=f"rq:*{q}*"):
                conn.delete(k)
            for k in conn.scan_iter(match="rq:job:*", count=1000):  # this run's jobs
                if conn.hget(k, "origin") == q.encode():
                    conn.delete(k)
            conn.srem("rq:queues", f"rq:queue:{q}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
