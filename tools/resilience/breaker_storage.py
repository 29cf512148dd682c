"""Breaker state kept in process, and what any breaker storage must provide.

The storage owns every transition (admit, success, failure, release, force), so the
same ``Breaker`` runs on this in-process state or on the Redis-shared one
(``redis_breaker.RedisBreakerStorage``), which falls back to this class when Redis is away.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from pybreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreakerStorage

from tools.errors import CircuitOpenError

if TYPE_CHECKING:
    from tools.resilience.breaker import Breaker


class BreakerStorage(Protocol):
    """What a storage must add to pybreaker's ``CircuitBreakerStorage`` for ``Breaker``."""

    @property
    def state(self) -> str: ...

    def admit(self, cb: Breaker) -> bool: ...
    async def aadmit(self, cb: Breaker) -> bool: ...
    def on_success(self, cb: Breaker, probe: bool) -> None: ...
    async def aon_success(self, cb: Breaker, probe: bool) -> None: ...
    def on_failure(self, cb: Breaker, probe: bool) -> None: ...
    async def aon_failure(self, cb: Breaker, probe: bool) -> None: ...
    def release(self, cb: Breaker, probe: bool) -> None: ...
    async def arelease(self, cb: Breaker, probe: bool) -> None: ...
    def force(self, cb: Breaker, state: str) -> None: ...
    def success_needs_io(self, probe: bool) -> bool: ...
    def open_remaining(self, reset_timeout: float) -> float: ...


def rejection(cb: Breaker, retry_after_s: float) -> CircuitOpenError:
    return CircuitOpenError(
        f"{cb.name} is failing; calls are paused for a moment",
        retry_after_s=retry_after_s,
        dependency=cb.name,
    )


class LocalBreakerStorage(CircuitBreakerStorage):
    """In-process state on the monotonic clock; the lock is held for bookkeeping only."""

    def __init__(self, state: str = STATE_CLOSED) -> None:
        super().__init__("memory")
        self._lock = threading.Lock()
        self._state = state
        self._failures = 0
        self._successes = 0
        self._opened_at = 0.0
        self._opened_wall: datetime | None = None
        self._probes = 0
        self._round_at = 0.0

    @property
    def state(self) -> str:
        return self._state

    @state.setter
    def state(self, state: str) -> None:
        with self._lock:
            self._enter(state, time.monotonic())

    @property
    def counter(self) -> int:
        return self._failures

    @property
    def success_counter(self) -> int:
        return self._successes

    @property
    def opened_at(self) -> datetime | None:
        return self._opened_wall

    @opened_at.setter
    def opened_at(self, value: datetime) -> None:
        self._opened_wall = value

    def increment_counter(self) -> None:
        self._failures += 1

    def reset_counter(self) -> None:
        self._failures = 0

    def increment_success_counter(self) -> None:
        self._successes += 1

    def reset_success_counter(self) -> None:
        self._successes = 0

    def restore(self, state: str, failures: int, open_for_s: float, reset_timeout: float) -> None:
        """Continue from another storage's state (the shared one, when Redis goes away)."""
        with self._lock:
            now = time.monotonic()
            self._enter(state, now)
            self._failures = failures
            if state == STATE_OPEN:
                self._opened_at = now - max(0.0, reset_timeout - open_for_s)

    def open_remaining(self, reset_timeout: float) -> float:
        """Seconds until an open breaker admits a probe (0 when not open)."""
        if self._state != STATE_OPEN:
            return 0.0
        return max(0.0, self._opened_at + reset_timeout - time.monotonic())

    def _enter(self, state: str, now: float) -> str:
        old = self._state
        self._state = state
        self._successes = 0
        self._probes = 0
        if state == STATE_OPEN:
            self._opened_at = now
            self._opened_wall = datetime.now(UTC)
        elif state == STATE_CLOSED:
            self._failures = 0
        else:
            self._round_at = now
        return old

    def admit(self, cb: Breaker) -> bool:
        with self._lock:
            if self._state == STATE_CLOSED:
                return False
            now = time.monotonic()
            if self._state == STATE_OPEN:
                wait = self._opened_at + cb.reset_timeout - now
                if wait > 0:
                    raise rejection(cb, wait)
                old = self._enter(STATE_HALF_OPEN, now)
                self._probes = 1
            else:
                if self._probes >= cb.half_open_permits:
                    # A probe whose process died or hung never returns its permit:
                    # after a full reset timeout the round starts over.
                    wait = self._round_at + cb.reset_timeout - now
                    if wait > 0:
                        raise rejection(cb, wait)
                    self._probes = 0
                    self._round_at = now
                self._probes += 1
                return True
        cb.notify_transition(old, STATE_HALF_OPEN)
        return True

    async def aadmit(self, cb: Breaker) -> bool:
        return self.admit(cb)

    def on_success(self, cb: Breaker, probe: bool) -> None:
        if not probe:
            if self._failures:
                with self._lock:
                    if self._state == STATE_CLOSED:
                        self._failures = 0
            return
        with self._lock:
            if self._state != STATE_HALF_OPEN:
                return
            self._probes = max(0, self._probes - 1)
            self._successes += 1
            if self._successes < cb.success_threshold:
                return
            old = self._enter(STATE_CLOSED, time.monotonic())
        cb.notify_transition(old, STATE_CLOSED)

    async def aon_success(self, cb: Breaker, probe: bool) -> None:
        self.on_success(cb, probe)

    def success_needs_io(self, probe: bool) -> bool:
        return False

    def on_failure(self, cb: Breaker, probe: bool) -> None:
        with self._lock:
            if self._state == STATE_CLOSED and not probe:
                self._failures += 1
                if self._failures < cb.fail_max:
                    return
            elif not (self._state == STATE_HALF_OPEN and probe):
                return
            old = self._enter(STATE_OPEN, time.monotonic())
        cb.notify_transition(old, STATE_OPEN)

    async def aon_failure(self, cb: Breaker, probe: bool) -> None:
        self.on_failure(cb, probe)

    def release(self, cb: Breaker, probe: bool) -> None:
        if probe:
            with self._lock:
                if self._state == STATE_HALF_OPEN:
                    self._probes = max(0, self._probes - 1)

    async def arelease(self, cb: Breaker, probe: bool) -> None:
        self.release(cb, probe)

    def force(self, cb: Breaker, state: str) -> None:
        with self._lock:
            old = self._enter(state, time.monotonic())
        cb.notify_transition(old, state)
