"""The backend chooser's Amazon SQS and NATS entries: their own fields write the URL's
options, and the connection test reaches a real local SQS server (moto's server mode) and
this machine's NATS server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from queuelab.backends import open_queue
from queuelab.backends.nats_queue import NatsQueue
from queuelab.gui.main_window import MainWindow

from ..backends.sqs_server import moto_sqs
from ..services import needs
from .helpers import scenario, wait_until


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_sqs() as url:
        yield url


@pytest.mark.asyncio
async def test_sqs_fields_write_the_url_and_the_test_connects(
    window: MainWindow, endpoint: str
) -> None:
    w = window
    w.set_scenario(scenario(), None)
    d = w.show_backend_dialog()
    d.kind_box.setCurrentIndex(d.kind_box.findData("sqs"))
    d.kind_box.activated.emit(d.kind_box.currentIndex())
    region, where = d.option_edits["sqs.region"], d.option_edits["sqs.endpoint"]
    assert region.isVisible() and where.isVisible() and not d.password_edit.isVisible()
    assert region.text() == "us-east-1" and "AWS chain" in d.hint.text()
    name = f"gui-{uuid.uuid4().hex[:10]}"
    d.queue_edit.setText(name)
    d.queue_edit.editingFinished.emit()
    region.setText("eu-west-1")
    region.editingFinished.emit()
    where.setText(endpoint)
    where.editingFinished.emit()
    assert d.url() == f"sqs://default?queue={name}&region=eu-west-1&endpoint={endpoint}"
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=10, what="the SQS test")
    assert d.last_result is not None and d.last_result[0], d.last_result
    assert "Connected to sqs://" in d.test_result.text() and "0 ready" in d.test_result.text()
    d.kind_box.setCurrentIndex(d.kind_box.findData("redis"))
    d.kind_box.activated.emit(d.kind_box.currentIndex())
    assert not region.isVisible() and not where.isVisible()


@pytest.mark.asyncio
@pytest.mark.parametrize("_", [pytest.param(0, marks=needs("nats"))])
async def test_nats_ack_wait_field_writes_the_url_and_the_test_connects(
    window: MainWindow, _: int
) -> None:
    d = window.show_backend_dialog()
    d.kind_box.setCurrentIndex(d.kind_box.findData("nats"))
    d.kind_box.activated.emit(d.kind_box.currentIndex())
    ack_wait = d.option_edits["nats.ack_wait"]
    assert ack_wait.isVisible() and d.password_edit.isVisible()
    name = f"gui-{uuid.uuid4().hex[:10]}"
    d.url_edit.setText(f"nats://127.0.0.1:4222?queue={name}")
    d.url_edit.editingFinished.emit()
    ack_wait.setText("5")
    ack_wait.editingFinished.emit()
    assert d.url() == f"nats://127.0.0.1:4222?queue={name}&ack_wait=5"
    d.test_connection()
    await wait_until(d.test_button.isEnabled, timeout=10, what="the NATS test")
    assert d.last_result is not None and d.last_result[0], d.last_result
    assert "Connected to nats://" in d.test_result.text()
    made = open_queue(f"nats://127.0.0.1:4222?queue={name}")  # the test made its streams
    assert isinstance(made, NatsQueue)
    await made.destroy()
    await made.close()
