"""The decorator in-process: retries, deadline, breaker, bulkhead, errors, interrupts."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable

import pytest
from langchain_core.tools import StructuredTool
from langgraph.errors import GraphInterrupt

from tools.errors import (
    BulkheadFullError,
    CircuitOpenError,
    DependencyError,
    DependencyTimeoutError,
    InvalidInputError,
    ToolError,
    tool_error_handler,
)
from tools.resilience import Resilience, budget, remaining
from tools.resilience.metrics import REGISTRY


def _counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


class Flaky:
    """Fails with ``errors`` in order, then returns "ok"; counts attempts."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors = list(errors)
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "ok"

    async def acall(self) -> str:
        return self()


def test_transient_failure_is_retried_and_succeeds(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(max_attempts=3)
    flaky = Flaky(ConnectionError("reset"), TimeoutError())
    before = _counter("resilience_retries_total", dependency="crm")
    assert resilience.guard("crm")(flaky)() == "ok"
    assert flaky.calls == 3
    assert _counter("resilience_retries_total", dependency="crm") - before == 2


async def test_async_transient_failure_is_retried(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(max_attempts=2)
    flaky = Flaky(ConnectionError("reset"))
    assert await resilience.guard("crm")(flaky.acall)() == "ok"
    assert flaky.calls == 2


@pytest.mark.parametrize(
    "error",
    [ValueError("bug"), InvalidInputError("bad id"), DependencyError("no", retryable=False)],
)
def test_non_retryable_errors_are_not_retried(
    make_resilience: Callable[..., Resilience], error: Exception
) -> None:
    resilience = make_resilience(max_attempts=5)
    flaky = Flaky(error)
    with pytest.raises(ToolError) as caught:
        resilience.guard("crm")(flaky)()
    assert flaky.calls == 1
    assert caught.value.retryable is False


def test_retry_can_be_turned_off(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(max_attempts=5)
    flaky = Flaky(ConnectionError("reset"))
    with pytest.raises(DependencyError):
        resilience.guard("crm", retry=False)(flaky)()
    assert flaky.calls == 1


def test_attempts_stop_at_max_attempts(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(max_attempts=3, fail_max=100)
    flaky = Flaky(*[ConnectionError("down")] * 10)
    with pytest.raises(DependencyError) as caught:
        resilience.guard("crm")(flaky)()
    assert flaky.calls == 3
    assert caught.value.to_dict()["dependency"] == "crm"
    assert "down" not in caught.value.message  # exception text may hold private data


async def test_deadline_is_never_exceeded(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(
        timeout_s=0.05, total_timeout_s=0.3, max_attempts=10, fail_max=100, backoff_initial_s=0.02
    )
    attempts = 0

    @resilience.guard("slow")
    async def slow() -> None:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(10)

    started = time.monotonic()
    with pytest.raises(DependencyTimeoutError):
        await slow()
    elapsed = time.monotonic() - started
    assert elapsed < 0.3 + 0.05  # the total budget plus scheduling slack
    assert 2 <= attempts < 10


def test_sync_callee_sees_the_attempt_budget(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(timeout_s=0.5, total_timeout_s=2.0)
    seen: list[float | None] = []
    resilience.guard("db")(lambda: seen.append(remaining()))()
    assert seen[0] is not None
    assert 0.4 < seen[0] <= 0.5
    assert remaining() is None


def test_outer_budget_bounds_inner_calls(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(timeout_s=5, total_timeout_s=30)
    seen: list[float | None] = []
    with budget(0.2):
        resilience.guard("db")(lambda: seen.append(remaining()))()
    assert seen[0] is not None
    assert seen[0] <= 0.2


def test_breaker_opens_after_fail_max_and_fails_fast(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(fail_max=3, max_attempts=1, reset_timeout_s=60)
    flaky = Flaky(*[ConnectionError("down")] * 3)
    call = resilience.guard("crm")(flaky)
    for _ in range(3):
        with pytest.raises(DependencyError):
            call()
    assert resilience.breaker_state("crm") == "open"
    with pytest.raises(CircuitOpenError) as caught:
        call()
    assert flaky.calls == 3
    assert 0 < caught.value.retry_after_s <= 60
    assert caught.value.to_dict()["code"] == "circuit_open"
    assert resilience.status()["breakers"]["crm"]["state"] == "open"


def test_half_open_probe_closes_on_success(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(fail_max=1, max_attempts=1, reset_timeout_s=0.05)
    flaky = Flaky(ConnectionError("down"))
    call = resilience.guard("crm")(flaky)
    with pytest.raises(DependencyError):
        call()
    time.sleep(0.06)
    assert call() == "ok"
    assert resilience.breaker_state("crm") == "closed"


def test_excluded_errors_neither_trip_nor_reset(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(fail_max=3, max_attempts=1)
    call = resilience.guard("crm")(
        Flaky(
            ConnectionError(),
            ConnectionError(),
            InvalidInputError("bad"),
            InvalidInputError("bad"),
            ConnectionError(),
        )
    )
    for _ in range(2):
        with pytest.raises(DependencyError):
            call()
    for _ in range(2):
        with pytest.raises(InvalidInputError):
            call()
    assert resilience.breaker("crm").fail_counter == 2  # not reset by the excluded errors
    with pytest.raises(DependencyError):
        call()
    assert resilience.breaker_state("crm") == "open"


async def test_cancellations_do_not_trip(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(fail_max=2, max_attempts=1)

    @resilience.guard("crm")
    async def hang() -> None:
        await asyncio.sleep(10)

    for _ in range(5):
        task = asyncio.create_task(hang())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert resilience.breaker_state("crm") == "closed"
    assert resilience.breaker("crm").fail_counter == 0
    assert resilience.bulkhead("crm").in_use == 0


def test_interrupts_pass_through_untouched(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(fail_max=1, max_attempts=3)
    interrupt = GraphInterrupt(("need a human",))
    flaky = Flaky(interrupt)
    with pytest.raises(GraphInterrupt) as caught:
        resilience.guard("tickets")(flaky)()
    assert caught.value is interrupt
    assert flaky.calls == 1
    assert resilience.breaker_state("tickets") == "closed"


async def test_async_interrupts_pass_through(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(fail_max=1)
    interrupt = GraphInterrupt(("need a human",))

    @resilience.guard("tickets")
    async def ask_a_human() -> None:
        raise interrupt

    with pytest.raises(GraphInterrupt) as caught:
        await ask_a_human()
    assert caught.value is interrupt
    assert resilience.breaker_state("tickets") == "closed"


def test_bulkhead_rejects_beyond_max_concurrent(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(max_concurrent=2, max_wait_s=0.02, max_attempts=1)
    release = threading.Event()
    entered = threading.Barrier(3)

    @resilience.guard("crm")
    def hold() -> str:
        entered.wait()
        release.wait(5)
        return "done"

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait()
    with pytest.raises(BulkheadFullError) as caught:
        resilience.guard("crm")(lambda: "x")()
    release.set()
    for thread in threads:
        thread.join()
    assert caught.value.retryable
    assert resilience.bulkhead("crm").in_use == 0
    assert resilience.breaker("crm").fail_counter == 0  # our own rejection is not a failure


async def test_async_bulkhead_waits_for_a_slot(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(max_concurrent=1, max_wait_s=1.0)

    @resilience.guard("crm")
    async def work(i: int) -> int:
        await asyncio.sleep(0.01)
        return i

    assert await asyncio.gather(*(work(i) for i in range(5))) == list(range(5))
    assert resilience.bulkhead("crm").in_use == 0


def test_guarded_tool_returns_an_error_tool_message(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(max_attempts=1)

    @resilience.guard("crm", operation="lookup_customer")
    def lookup_customer(customer_id: str) -> str:
        """Look a customer up in the CRM."""
        raise ConnectionError("crm down")

    tool = StructuredTool.from_function(lookup_customer, handle_tool_error=tool_error_handler)
    message = tool.invoke(
        {"type": "tool_call", "name": tool.name, "id": "1", "args": {"customer_id": "c1"}}
    )
    assert tool.name == "lookup_customer"
    assert message.status == "error"
    payload = json.loads(message.content)["error"]
    assert payload["code"] == "dependency_error"
    assert payload["dependency"] == "crm"
    assert payload["retryable"] is True


def test_status_reports_mode_and_breakers(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience()
    resilience.guard("kb")(lambda: 1)()
    status = resilience.status()
    assert status["shared_state"] == "in-process"
    assert status["breakers"]["kb"] == {"state": "closed", "failures": 0, "retry_after_s": 0.0}


async def test_executor_runs_sync_work_off_the_loop_and_shuts_down(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience()
    loop_thread = threading.get_ident()
    with budget(1.0):
        thread, left = await resilience.executor.run(lambda: (threading.get_ident(), remaining()))
    assert thread != loop_thread
    assert left is not None
    assert left <= 1.0
    resilience.close()
    with pytest.raises(RuntimeError):
        await resilience.executor.run(lambda: None)
