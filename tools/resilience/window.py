"""resilience4j's sliding window of outcomes: trip on a failure rate or a slow-call rate."""

from __future__ import annotations

import threading


class SlidingWindow:
    """resilience4j's count-based window: trips on a failure rate or a slow-call rate.

    Kept per process (recording every success in Redis would put I/O back on the success
    path); the trip it decides is then shared through the storage.
    """

    def __init__(
        self,
        size: int,
        minimum_calls: int,
        failure_rate: float | None,
        slow_call_s: float | None,
        slow_rate: float,
    ) -> None:
        self._size = size
        self._minimum = min(minimum_calls, size)
        self._failure_rate = failure_rate
        self.slow_call_s = slow_call_s
        self._slow_rate = slow_rate
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self._outcomes = [0] * self._size
        self._index = 0
        self._count = 0
        self._failures = 0
        self._slow = 0

    def record(self, failed: bool, duration_s: float) -> bool:
        """Add one outcome; True when the window says the breaker should open."""
        slow = self.slow_call_s is not None and duration_s >= self.slow_call_s
        value = (1 if failed else 0) | (2 if slow else 0)
        with self._lock:
            old = self._outcomes[self._index] if self._count == self._size else 0
            self._outcomes[self._index] = value
            self._index = (self._index + 1) % self._size
            self._count = min(self._count + 1, self._size)
            self._failures += (value & 1) - (old & 1)
            self._slow += ((value & 2) - (old & 2)) // 2
            if self._count < self._minimum:
                return False
            if (
                self._failure_rate is not None
                and self._failures >= self._failure_rate * self._count
            ):
                return True
            return self.slow_call_s is not None and self._slow >= self._slow_rate * self._count
