"""What ``Breaker`` keeps from pybreaker (pinned >=1.4.1,<1.5) and what it fixes.

Outcomes are recorded the way ``Resilience.guard`` records them (``attempt`` below):
``admit`` before the call, then ``succeeded`` or ``failed``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, TypeVar

import pybreaker
import pytest

from tools.errors import CircuitOpenError
from tools.resilience import Breaker, SlidingWindow

T = TypeVar("T")


class Recorder(pybreaker.CircuitBreakerListener):
    def __init__(self) -> None:
        self.events: list[tuple[str, ...]] = []

    def success(self, cb: Any) -> None:
        self.events.append(("success",))

    def failure(self, cb: Any, exc: BaseException) -> None:
        self.events.append(("failure", type(exc).__name__))

    def state_change(self, cb: Any, old_state: Any, new_state: Any) -> None:
        self.events.append(("state_change", old_state.name if old_state else "", new_state.name))


def attempt(breaker: Breaker, func: Callable[..., T], *args: Any) -> T:
    """One attempt as the guard makes it."""
    probe = breaker.admit()
    started = time.perf_counter()
    try:
        result = func(*args)
    except BaseException as exc:
        breaker.failed(exc, probe, time.perf_counter() - started)
        raise
    breaker.succeeded(probe, time.perf_counter() - started)
    return result


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
        with pytest.raises(ConnectionError):
            attempt(breaker, _boom)
    assert breaker.fail_counter == 2
    with pytest.raises(pybreaker.CircuitBreakerError) as caught:
        attempt(breaker, lambda: "never runs")
    assert isinstance(caught.value, CircuitOpenError)  # and a structured tool error
    assert 59 < caught.value.retry_after_s <= 60


def test_pybreakers_call_styles_point_to_the_guard() -> None:
    """pybreaker's call() held its lock for the whole call and never awaited coroutines."""
    breaker = Breaker("crm")
    for call in (
        lambda: breaker.call(lambda: 1),
        lambda: breaker.calling(),
        lambda: breaker(lambda: 1),
        lambda: breaker.call_async(lambda: 1),
    ):
        with pytest.raises(TypeError, match=r"Resilience\.guard"):
            call()


def test_listeners_see_calls_outcomes_and_transitions() -> None:
    recorder = Recorder()
    breaker = Breaker("crm", fail_max=1, reset_timeout=0.05, listeners=[recorder])
    assert attempt(breaker, lambda: 1) == 1
    with pytest.raises(ConnectionError):
        attempt(breaker, _boom)
    time.sleep(0.06)
    attempt(breaker, lambda: None)
    assert recorder.events == [
        ("success",),
        ("state_change", "closed", "open"),
        ("failure", "ConnectionError"),
        ("state_change", "open", "half-open"),
        ("state_change", "half-open", "closed"),
        ("success",),
    ]


async def test_cancelled_calls_are_not_failures() -> None:
    breaker = Breaker("crm", fail_max=1)

    async def hang() -> None:
        probe = await breaker.aadmit()
        try:
            await asyncio.sleep(10)
        except BaseException as exc:
            await breaker.afailed(exc, probe)
            raise

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
        attempt(breaker, _boom)
    with pytest.raises(KeyError):
        attempt(breaker, lambda: {}["missing"])
    assert breaker.fail_counter == 1  # pybreaker would have reset it to 0
    with pytest.raises(ConnectionError):
        attempt(breaker, _boom)
    assert breaker.current_state == "open"


def test_half_open_admits_only_the_permitted_probes() -> None:
    breaker = Breaker("crm", fail_max=1, reset_timeout=0.05, half_open_permits=2)
    with pytest.raises(ConnectionError):
        attempt(breaker, _boom)
    time.sleep(0.06)
    entered, release = threading.Barrier(3), threading.Event()
    results: list[str] = []

    def run() -> None:
        results.append("ran")
        entered.wait(5)
        release.wait(5)

    def probe() -> None:
        try:
            attempt(breaker, run)
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


def test_failure_rate_window_trips_a_steady_error_rate() -> None:
    """A 50% error rate never trips a consecutive counter; the window does."""
    window = SlidingWindow(10, 10, failure_rate=0.5, slow_call_s=None, slow_rate=1.0)
    breaker = Breaker("crm", fail_max=100, window=window, throw_new_error_on_trip=False)
    for i in range(10):
        if i % 2:
            attempt(breaker, lambda: 1)
        else:
            with pytest.raises(ConnectionError):
                attempt(breaker, _boom)
    assert breaker.current_state == "open"


def test_slow_call_window_trips_on_slow_successes() -> None:
    window = SlidingWindow(4, 4, failure_rate=None, slow_call_s=0.01, slow_rate=0.75)
    breaker = Breaker("crm", fail_max=100, window=window)
    for _ in range(3):
        attempt(breaker, time.sleep, 0.015)
    assert breaker.current_state == "closed"
    attempt(breaker, lambda: None)
    assert breaker.current_state == "open"
