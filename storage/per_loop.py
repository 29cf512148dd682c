"""One object per running asyncio event loop, dropped together with its loop.

asyncio clients and connections belong to the loop that opened them: a process that calls
``asyncio.run`` twice (a CLI, tests) must not reuse the first loop's client in the second.
Keys are weak, so an ended loop takes its object with it.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class PerLoop(Generic[T]):
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def get(self) -> T:
        """The running loop's object, created on first use there."""
        loop = asyncio.get_running_loop()
        value = self._by_loop.get(loop)
        if value is None:
            with self._lock:
                value = self._by_loop.get(loop)
                if value is None:
                    value = self._by_loop[loop] = self._factory()
        return value

    def pop(self) -> T | None:
        """Forget the running loop's object (the caller closes it), if there is one."""
        return self._by_loop.pop(asyncio.get_running_loop(), None)

    def __contains__(self, loop: asyncio.AbstractEventLoop) -> bool:
        return loop in self._by_loop

    def __len__(self) -> int:
        return len(self._by_loop)
