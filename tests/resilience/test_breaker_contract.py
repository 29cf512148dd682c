"""What ``Breaker`` keeps from pybreaker (pinned >=1.4.1,<1.5) and what it fixes."""

from __future__ import annotations

import asyncio
import threading
import time
from importlib.metadata import version
from typing import Any

import pybreaker
import pytest

from tools.errors import CircuitOpenError
from tools.resilience import Breaker, SlidingWindow


class Recorder(pybreaker.CircuitBreakerListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def before_call(self, cb: Any, func: Any, *args: Any, **kwargs: Any) -> None:
        self.events.append(("before_call",))

    def success(self, cb: Any) -> None:
        self.events.append(("success",))

    def failure(self, cb: Any, exc: BaseException) -> None:
        self.events.append(("failure", type(exc).__name__))

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.events.append(("state_change", old_state.name if old_state else "", new_state.name))


def _boom() -> None:
    raise ConnectionError("down")


def test_pybreaker_version_is_the_pinned_range() -> None:
    major, minor, *_ = (int(part) for part in version("pybreaker").split("."))
    assert (major, minor) == (1, 4)  # what this module was written against


def test_is_a_pybreaker_circuit_breaker_with_its_state_names() -> None:
    breaker = Breaker("crm", fail_max=2, reset_timeout=0.05)
    assert isinstance(breaker, pybreaker.CircuitBreaker)
    assert breaker.current_state == pybreaker.STATE_CLOSED
    assert isinstance(breaker.state, pybreaker.CircuitClosedState)
    breaker.open()
    assert breaker.current_state == pybreaker.STATE_OPEN
    assert isinstance(breaker.state, pybreaker.CircuitOpenState)
    breaker.half_open()
    assert isinstance(breaker.state, pybreaker.CircuitHalfOpenState)
    breaker.close()
    assert breaker.current_state == "closed"
    assert breaker.name == "crm"


def test_open_breaker_raises_circuit_breaker_error() -> None:
    breaker = Breaker("crm", fail_max=2, reset_timeout=60)
    for _ in range(2):
        with pytest.raises((ConnectionError, pybreaker.CircuitBreakerError)):
            breaker.call(_boom)
    assert breaker.fail_counter == 2
    with pytest.raises(pybreaker.CircuitBreakerError) as caught:
        breaker.call(lambda: "never runs")
    assert isinstance(caught.value, CircuitOpenError)  # and a structured tool error
    assert 59 < caught.value.retry_after_s <= 60


def test_trip_raises_circuit_breaker_error_like_pybreaker() -> None:
    breaker = Breaker("crm", fail_max=1)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(_boom)
    quiet = Breaker("crm", fail_max=1, throw_new_error_on_trip=False)
    with pytest.raises(ConnectionError):
        quiet.call(_boom)


def test_listeners_see_calls_outcomes_and_transitions() -> None:
    recorder = Recorder()
    breaker = Breaker("crm", fail_max=1, reset_timeout=0.05, listeners=[recorder])
    assert breaker.call(lambda: 1) == 1
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(_boom)
    time.sleep(0.06)
    with breaker.calling():
        pass
    assert recorder.events == [
        ("before_call",),
        ("success",),
        ("before_call",),
        ("state_change", "closed", "open"),
        ("failure", "ConnectionError"),
        ("before_call",),
        ("state_change", "open", "half-open"),
        ("state_change", "half-open", "closed"),
        ("success",),
    ]


async def test_async_functions_are_really_guarded() -> None:
    """pybreaker issue 7: decorating an ``async def`` did nothing."""
    breaker = Breaker("crm", fail_max=2, reset_timeout=60)

    @breaker
    async def failing() -> None:
        await asyncio.sleep(0)
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises((ConnectionError, pybreaker.CircuitBreakerError)):
            await failing()
    assert breaker.current_state == "open"
    with pytest.raises(pybreaker.CircuitBreakerError):
        await failing()


async def test_calling_around_await_counts_failures() -> None:
    breaker = Breaker("crm", fail_max=1, throw_new_error_on_trip=False)

    async def fail_inside() -> None:
        with breaker.calling():
            await asyncio.sleep(0)
            raise ConnectionError("down")

    with pytest.raises(ConnectionError):
        await fail_inside()
    assert breaker.current_state == "open"


async def test_cancelled_calls_are_not_failures() -> None:
    breaker = Breaker("crm", fail_max=1)

    async def hang() -> None:
        async with breaker.acalling():
            await asyncio.sleep(10)

    task = asyncio.create_task(hang())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert breaker.current_state == "closed"
    assert breaker.fail_counter == 0


def test_excluded_errors_are_neither_failures_nor_successes() -> None:
    breaker = Breaker("crm", fail_max=2, exclude=[KeyError])
    with pytest.raises(ConnectionError):
        breaker.call(_boom)
    with pytest.raises(KeyError):
        breaker.call(lambda: {}["missing"])
    assert breaker.fail_counter == 1  # pybreaker would have reset it to 0
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(_boom)


def test_half_open_admits_only_the_permitted_probes() -> None:
    breaker = Breaker("crm", fail_max=1, reset_timeout=0.05, half_open_permits=2)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(_boom)
    time.sleep(0.06)
    entered, release = threading.Barrier(3), threading.Event()
    results: list[str] = []

    def probe() -> None:
        try:
            with breaker.calling():
                results.append("ran")
                entered.wait(5)
                release.wait(5)
        except pybreaker.CircuitBreakerError:
            results.append("refused")

    threads = [threading.Thread(target=probe) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait(5)
    for _ in range(18):
        probe()
    release.set()
    for thread in threads:
        thread.join()
    assert results.count("ran") == 2
    assert results.count("refused") == 18


def test_concurrent_sync_calls_are_not_serialised() -> None:
    """pybreaker's ``call()`` held its lock for the whole call."""
    breaker = Breaker("crm")
    inside = threading.Barrier(2, timeout=5)

    def both_inside() -> None:
        breaker.call(inside.wait)

    threads = [threading.Thread(target=both_inside) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not inside.broken


def test_failure_rate_window_trips_a_steady_error_rate() -> None:
    """A 50% error rate never trips a consecutive counter; the window does."""
    window = SlidingWindow(10, 10, failure_rate=0.5, slow_call_s=None, slow_rate=1.0)
    breaker = Breaker("crm", fail_max=100, window=window, throw_new_error_on_trip=False)
    for i in range(10):
        if i % 2:
            breaker.call(lambda: 1)
        else:
            with pytest.raises(ConnectionError):
                breaker.call(_boom)
    assert breaker.current_state == "open"


def test_slow_call_window_trips_on_slow_successes() -> None:
    window = SlidingWindow(4, 4, failure_rate=None, slow_call_s=0.01, slow_rate=0.75)
    breaker = Breaker("crm", fail_max=100, window=window)
    for _ in range(3):
        breaker.call(time.sleep, 0.015)
    assert breaker.current_state == "closed"
    breaker.call(lambda: None)
    assert breaker.current_state == "open"
