"""Bounded concurrency per dependency, shared by threads and event loops alike.

One slow dependency must not take every worker thread or task with it. asyncio's
Semaphore is bound to one loop and threading's blocks the loop, so this keeps one
counter under a short lock: threads wait on a Condition, coroutines on a future that
``release`` resolves from whichever thread frees a slot. Waits are bounded; a caller
that cannot get a slot in time gets ``BulkheadFullError``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque

from tools.errors import BulkheadFullError


class Bulkhead:
    def __init__(self, name: str, max_concurrent: int, max_wait_s: float) -> None:
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_wait_s = max_wait_s
        self._in_use = 0
        self._waiting_threads = 0
        self._lock = threading.Lock()
        self._threads = threading.Condition(self._lock)
        self._tasks: deque[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = deque()

    @property
    def in_use(self) -> int:
        return self._in_use

    def try_acquire(self) -> bool:
        """Take a slot only if one is free right now."""
        with self._lock:
            if self._in_use < self.max_concurrent:
                self._in_use += 1
                return True
            return False

    def acquire(self, timeout_s: float | None = None) -> None:
        """Take a slot, waiting at most ``min(max_wait_s, timeout_s)``."""
        if self.try_acquire():
            return
        wait = self.max_wait_s if timeout_s is None else min(self.max_wait_s, timeout_s)
        end = time.monotonic() + wait
        with self._threads:
            self._waiting_threads += 1
            try:
                while self._in_use >= self.max_concurrent:
                    left = end - time.monotonic()
                    if left <= 0 or not self._threads.wait(left):
                        if self._in_use < self.max_concurrent:
                            break
                        raise self._full()
            finally:
                self._waiting_threads -= 1
            self._in_use += 1

    async def aacquire(self, timeout_s: float | None = None) -> None:
        if self.try_acquire():
            return
        wait = self.max_wait_s if timeout_s is None else min(self.max_wait_s, timeout_s)
        loop = asyncio.get_running_loop()
        end = loop.time() + wait
        while True:
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                if self._in_use < self.max_concurrent:
                    self._in_use += 1
                    return
                self._tasks.append((loop, future))
            left = end - loop.time()
            try:
                if left <= 0:
                    raise TimeoutError
                async with asyncio.timeout(left):
                    await future
            except TimeoutError:
                with self._lock:
                    self._discard(loop, future)
                    if self._in_use < self.max_concurrent:
                        self._in_use += 1
                        return
                raise self._full() from None

    def _discard(self, loop: asyncio.AbstractEventLoop, future: asyncio.Future[None]) -> None:
        try:
            self._tasks.remove((loop, future))
        except ValueError:
            # Already popped by release(): its wake-up went to a waiter that gave up,
            # so pass it on to the next one.
            self._wake_one()

    def release(self) -> None:
        with self._lock:
            self._in_use -= 1
            if self._waiting_threads:
                self._threads.notify()
            if self._tasks:
                self._wake_one()

    def _wake_one(self) -> None:
        while self._tasks:
            loop, future = self._tasks.popleft()
            if future.done() or loop.is_closed():
                continue
            loop.call_soon_threadsafe(_resolve, future)
            return

    def _full(self) -> BulkheadFullError:
        return BulkheadFullError(
            f"{self.name} is busy ({self.max_concurrent} calls in flight); try again shortly",
            retry_after_s=self.max_wait_s,
            dependency=self.name,
        )


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
