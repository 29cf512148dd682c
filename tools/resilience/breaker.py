"""A pybreaker ``CircuitBreaker`` that works on asyncio and never serialises calls.

pybreaker 1.4.x (pinned ``>=1.4.1,<1.5``) is kept for its API: state names, state objects,
``CircuitBreakerError``, listeners, ``open()/half_open()/close()``. Calls go through
``Resilience.guard``, which uses the building blocks here (``admit``, ``succeeded``,
``failed``); pybreaker's ``call()``/``calling()``/decorator are refused (they held a lock
for the whole call and never awaited ``async def`` functions). What else it gets wrong for
us is replaced:
- half-open admitted everyone; here ``half_open_permits`` probes run, the rest are refused.
- excluded errors counted as successes and cancellations as failures; both are now
  ignored (a half-open probe permit is handed back).
The storage decides every transition, so the same breaker runs on in-process state
(``LocalBreakerStorage``) or on shared Redis state (``redis_breaker.RedisBreakerStorage``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from langgraph.errors import GraphBubbleUp
from pybreaker import (
    STATE_CLOSED,
    STATE_HALF_OPEN,
    STATE_OPEN,
    CircuitBreaker,
    CircuitBreakerListener,
    CircuitBreakerStorage,
)

from tools.errors import BulkheadFullError, CallerError, CircuitOpenError, RateLimitedError
from tools.resilience.breaker_storage import BreakerStorage, LocalBreakerStorage
from tools.resilience.classify import REFUSED_VALUES
from tools.resilience.window import SlidingWindow

_USE_THE_GUARD = "call dependencies through Resilience.guard(dependency); Breaker only keeps state"

# Not outcomes of the dependency: the caller gave up, a limit in front of it refused, or the
# request itself was wrong (bad input, not found, not authorized, a value the database refused):
# one tenant's bad input must never open a breaker that every tenant shares.
NOT_OUTCOMES: tuple[type[BaseException], ...] = (
    *REFUSED_VALUES,
    CallerError,
    asyncio.CancelledError,
    KeyboardInterrupt,
    SystemExit,
    GeneratorExit,
    GraphBubbleUp,
    BulkheadFullError,
    RateLimitedError,
    CircuitOpenError,
)


class Breaker(CircuitBreaker):
    """pybreaker's API with non-blocking, asyncio-aware calls and counted half-open probes."""

    def __init__(
        self,
        name: str,
        *,
        fail_max: int = 5,
        reset_timeout: float = 60,
        success_threshold: int = 1,
        half_open_permits: int = 1,
        exclude: Iterable[type[BaseException] | Callable[[Any], bool]] | None = None,
        listeners: Sequence[CircuitBreakerListener] | None = None,
        state_storage: CircuitBreakerStorage | None = None,
        window: SlidingWindow | None = None,
        throw_new_error_on_trip: bool = True,
    ) -> None:
        storage = state_storage or LocalBreakerStorage()
        super().__init__(
            fail_max=fail_max,
            reset_timeout=reset_timeout,
            success_threshold=success_threshold,
            exclude=exclude,
            listeners=listeners,
            state_storage=storage,
            name=name,
            throw_new_error_on_trip=throw_new_error_on_trip,
        )
        self.half_open_permits = half_open_permits
        self.window = window
        # Our own reference, rather than pybreaker's private attribute: every transition goes
        # through this storage (``BreakerStorage``).
        self.storage: BreakerStorage = storage  # type: ignore[assignment]
        self._label = name

    @property
    def name(self) -> str:
        return self._label or "breaker"

    @name.setter
    def name(self, name: str) -> None:
        self._label = name

    @property
    def state(self) -> Any:
        """The state object; a change made elsewhere (another process) is noticed here."""
        current = self.storage.state
        if current != self._state.name:
            self.notify_transition(self._state.name, current)
        return self._state

    @state.setter
    def state(self, state_str: str) -> None:
        self.storage.force(self, state_str)

    def notify_transition(self, old: str, new: str) -> None:
        """Swap the state object and tell listeners, once per change this process sees."""
        with self._lock:
            if self._state.name == new:
                return
            previous = self._state
            self._state = self._create_new_state(new, prev_state=previous, notify=False)
            if self.window is not None:
                self.window.reset()
        for listener in self._listeners:
            listener.state_change(self, previous, self._state)

    def open(self) -> bool:
        self.storage.force(self, STATE_OPEN)
        return self._throw_new_error_on_trip

    def half_open(self) -> None:
        self.storage.force(self, STATE_HALF_OPEN)

    def close(self) -> None:
        self.storage.force(self, STATE_CLOSED)

    def is_outcome(self, exc: BaseException) -> bool:
        """False for cancellations, interrupts, our own rejections and excluded errors."""
        return not isinstance(exc, NOT_OUTCOMES) and self.is_system_error(exc)

    # Building blocks (used by the resilience decorator, which times attempts itself).

    def admit(self) -> bool:
        """Let a call in or raise ``CircuitOpenError``; True when it is a half-open probe."""
        if self.storage.state == STATE_CLOSED:
            return False
        return self.storage.admit(self)

    async def aadmit(self) -> bool:
        if self.storage.state == STATE_CLOSED:
            return False
        return await self.storage.aadmit(self)

    def success_needs_io(self, probe: bool) -> bool:
        """Whether recording a success must talk to shared state (async callers await it)."""
        return self.storage.success_needs_io(probe)

    def succeeded(self, probe: bool, duration_s: float = 0.0, count: bool = True) -> None:
        """Record a success; ``count=False`` (a retry of a call whose failure was already
        counted) still closes a probe and resets the consecutive count, but adds nothing
        to the sliding window: one call, one outcome."""
        self.storage.on_success(self, probe)
        self._after_success(duration_s, count)

    async def asucceeded(self, probe: bool, duration_s: float = 0.0, count: bool = True) -> None:
        await self.storage.aon_success(self, probe)
        self._after_success(duration_s, count)

    def failed(
        self, exc: BaseException, probe: bool, duration_s: float = 0.0, count: bool = True
    ) -> None:
        """Record how an attempt ended; ignored outcomes only hand back a probe permit, and
        so does an uncounted failure (a retry of a call already counted) unless it was a
        probe, which must re-open the breaker."""
        if not self.is_outcome(exc) or not (count or probe):
            self.storage.release(self, probe)
            return
        self.storage.on_failure(self, probe)
        self._after_failure(exc, duration_s, count)

    async def afailed(
        self, exc: BaseException, probe: bool, duration_s: float = 0.0, count: bool = True
    ) -> None:
        if not self.is_outcome(exc) or not (count or probe):
            await self.storage.arelease(self, probe)
            return
        await self.storage.aon_failure(self, probe)
        self._after_failure(exc, duration_s, count)

    def _after_success(self, duration_s: float, count: bool = True) -> None:
        if count and self.window is not None and self.window.record(False, duration_s):
            self._trip_from_window()
        for listener in self._listeners:
            listener.success(self)

    def _after_failure(self, exc: BaseException, duration_s: float, count: bool = True) -> None:
        if count and self.window is not None and self.window.record(True, duration_s):
            self._trip_from_window()
        for listener in self._listeners:
            listener.failure(self, exc)

    def _trip_from_window(self) -> None:
        if self.storage.state == STATE_CLOSED:
            self.storage.force(self, STATE_OPEN)

    # pybreaker's call styles are refused: the resilience guard is the one way to call a
    # dependency (it adds the deadline, retry, bulkhead and metrics around these building
    # blocks), and pybreaker's own versions would hold the lock for the whole call.

    def call(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_USE_THE_GUARD)

    def call_async(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_USE_THE_GUARD)

    def calling(self) -> Any:
        raise TypeError(_USE_THE_GUARD)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError(_USE_THE_GUARD)

    def retry_after(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it is not open)."""
        return self.storage.open_remaining(self.reset_timeout)
