"""User handlers, sync and async: their exceptions become failures the dead-letter pane shows."""

from __future__ import annotations

import pytest

from queuelab.core.task import DeadLetterQuery
from queuelab.runtime.engine import LiveEngine
from queuelab.runtime.handlers import HandlerError, UserHandler
from tests.runtime import handlers_for_tests
from tests.runtime.helpers import live, run_to_end, scenario

MODULE = "tests.runtime.handlers_for_tests"


@pytest.mark.asyncio
@pytest.mark.parametrize("function", ["flaky", "flaky_async"])
async def test_a_user_handlers_exception_is_kept_for_the_dead_letter_pane(function: str) -> None:
    s = scenario(run={"duration": 30.0, "warmup": 0.0, "time_scale": 0.02},
                 arrivals={"rate": 3.0}, service={"handler": f"{MODULE}:{function}"},
                 retry={"max_attempts": 2, "base_delay": 0.5, "jitter": "none"},
                 pool={"workers": 3})
    engine = live(s)
    assert isinstance(engine.handler, UserHandler)
    assert engine.handler.is_async == (function == "flaky_async")
    await run_to_end(engine)
    page = await engine.dead_letters(DeadLetterQuery(limit=500))
    totals = engine.totals()
    assert page.total == totals.dead_lettered > 5
    assert page.error_kinds == ("Refused",)
    for dead in page.items:
        n = dead.task.payload["n"]
        assert n % handlers_for_tests.REFUSED_EVERY == 0
        assert dead.error == f"flaky: task {dead.id} refused (n = {n}, attempt 2)"
        assert [a.error for a in dead.task.history] == [
            f"flaky: task {dead.id} refused (n = {n}, attempt {k})" for k in (1, 2)]
    assert totals.done > 2 * totals.dead_lettered  # the other three in four succeed


@pytest.mark.asyncio
async def test_sync_handlers_run_in_parallel_threads() -> None:
    handlers_for_tests.most_running = 0
    s = scenario(run={"duration": 10.0, "warmup": 0.0, "time_scale": 0.05},
                 arrivals={"rate": 40.0}, service={"handler": f"{MODULE}:slow_sync"},
                 pool={"workers": 6})
    engine = live(s)
    await run_to_end(engine)
    assert handlers_for_tests.most_running >= 5  # not serialized, not capped by a small pool
    assert engine.totals().done > 50


@pytest.mark.parametrize(("name", "says"), [
    ("no_colon_here", "is not of the form package.module:function"),
    ("tests.runtime.no_such_module:run", "cannot import 'tests.runtime.no_such_module'"),
    (f"{MODULE}:missing", f"module '{MODULE}' has no 'missing'"),
    (f"{MODULE}:not_callable", "is not callable"),
])
def test_a_bad_handler_name_is_refused_with_the_reason(name: str, says: str) -> None:
    with pytest.raises(HandlerError) as info:
        LiveEngine(scenario(service={"handler": name}))
    message = str(info.value)
    assert message.startswith("service.handler: ") and says in message
