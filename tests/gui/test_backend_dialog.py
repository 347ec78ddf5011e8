"""The backend dialog's queue-name field, its answer to a queue of another discipline, and
"Use this backend" after a failed test (the same for every backend)."""

from __future__ import annotations

import os
import secrets

import pytest

from queuelab.backends import open_queue
from queuelab.core.task import Task
from queuelab.gui.main_window import MainWindow

from ..services import needs
from .helpers import wait_until

pytestmark = pytest.mark.asyncio

RUN = f"{os.getpid()}-{secrets.token_hex(3)}"


async def test_the_queue_name_has_its_own_field(window: MainWindow) -> None:
    d = window.show_backend_dialog()
    d.set_url("redis://127.0.0.1:6379/0?queue=jobs&discipline=fifo")
    assert d.queue_edit.isVisible() and d.queue_edit.text() == "jobs"
    d.queue_edit.setText("night shift")
    d.queue_edit.editingFinished.emit()
    assert d.url() == "redis://127.0.0.1:6379/0?queue=night%20shift&discipline=fifo"
    assert "queue=night%20shift" in d.url_edit.text()
    d.queue_edit.setText("")
    d.queue_edit.editingFinished.emit()
    assert d.url() == "redis://127.0.0.1:6379/0?discipline=fifo"
    d.set_url("memory://")
    assert not d.queue_edit.isVisible()
    d.reject()


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:1/0?queue=q",
    "postgresql://127.0.0.1:1/test?queue=q",
    "amqp://guest@127.0.0.1:1/?queue=q",
    "sqlite:////nonexistent-dir-queuelab/q.db",
])
async def test_after_a_failed_test_use_takes_the_url_for_every_backend(
        window: MainWindow, url: str) -> None:
    """One behaviour for all: the failure stays on screen and the URL is used as it is."""
    d = window.show_backend_dialog()
    d.timeout = 2.0
    d.set_url(url)
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=8, what="the test")
    assert d.last_result is not None and not d.last_result[0]
    chosen: list[str] = []
    d.chosen.connect(chosen.append)
    d.use_button.click()
    assert chosen == [url] and not d.isVisible()
    assert window.scenario.queue.backend == url


async def _conflict(window: MainWindow, url: str, name: str) -> None:
    d = window.show_backend_dialog()
    d.set_url(f"{url}?queue={name}", discipline="priority")
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=10, what="the test")
    assert d.last_result is not None and not d.last_result[0]
    assert f"Queue '{name}'" in d.last_result[1] and "already exists as a fifo queue" in \
        d.last_result[1], d.last_result
    assert d.fresh_button.isVisible()
    d.use_fresh_name()
    assert d.queue_edit.text() == f"{name}-priority"
    await wait_until(d.test_button.isEnabled, timeout=10, what="the second test")
    assert d.last_result is not None and d.last_result[0], d.last_result
    assert not d.fresh_button.isVisible()
    d.reject()


@pytest.mark.parametrize("_redis", [pytest.param(0, marks=needs("redis"))])
async def test_a_redis_queue_of_another_discipline_offers_a_fresh_name(
        window: MainWindow, _redis: int) -> None:
    url, name = "redis://127.0.0.1:6379/0", f"dialog-{RUN}"
    fifo = open_queue(url, queue=name)
    await fifo.open()
    await fifo.enqueue(Task("t1"))  # the first task fixes the discipline: FIFO
    try:
        await _conflict(window, url, name)
    finally:
        await fifo.purge()
        await fifo.close()
        fresh = open_queue(url, queue=f"{name}-priority")
        await fresh.open()
        await fresh.purge()
        await fresh.close()


@pytest.mark.parametrize("_amqp", [pytest.param(0, marks=needs("rabbitmq"))])
async def test_a_rabbitmq_queue_of_another_discipline_offers_a_fresh_name(
        window: MainWindow, _amqp: int) -> None:
    """RabbitMQ refused with PRECONDITION_FAILED (inequivalent arg 'x-max-priority')."""
    url, name = "amqp://guest:guest@127.0.0.1:5672/", f"dialog-{RUN}"
    fifo = open_queue(url, queue=name)
    await fifo.open()  # declared without x-max-priority
    try:
        await _conflict(window, url, name)
    finally:
        await fifo.destroy()  # type: ignore[attr-defined]
        await open_queue(url, queue=f"{name}-priority").destroy()  # type: ignore[attr-defined]


