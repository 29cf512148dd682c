"""The one bounded thread pool for blocking dependency clients called from async code.

Used for the vector store's client (``KnowledgeBase``), whose calls cross the network
and can hang on a dead server. In the loop's default executor they could occupy every
thread and starve local embedding and other ``asyncio.to_thread`` work; here they can
take at most ``resilience.executor_max_workers`` threads. The pool is created on first
use, carries the caller's contextvars (deadline, call scope, tracing) into the thread,
and is shut down by ``Resilience.close()``.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


class Executor:
    def __init__(self, max_workers: int, name: str = "resilience") -> None:
        self.max_workers = max_workers
        self._name = name
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _get(self) -> ThreadPoolExecutor:
        pool = self._pool
        if pool is not None:
            return pool
        with self._lock:
            if self._closed:
                raise RuntimeError("executor is shut down")
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix=self._name)
            return self._pool

    async def run(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``func`` in the pool without blocking the event loop."""
        context = contextvars.copy_context()
        call = functools.partial(context.run, func, *args, **kwargs)
        return await asyncio.get_running_loop().run_in_executor(self._get(), call)

    @property
    def started(self) -> bool:
        return self._pool is not None

    def shutdown(self, wait: bool = True) -> None:
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)
