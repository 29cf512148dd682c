"""One time budget per call, carried in a contextvar so nested calls cannot extend it.

A guarded call inside another guarded call, or inside a LangGraph node that LangGraph
retries, shares the outer budget instead of starting a fresh one: the deadline is the
earliest of (the caller's deadline, this call's own total timeout, the node's first
attempt + this call's total timeout). Sync code reads ``remaining()`` to size its own
socket or statement timeouts.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from threading import Lock

from langgraph.runtime import Runtime, get_runtime

_deadline: ContextVar[float | None] = ContextVar("resilience_deadline", default=None)


def current() -> float | None:
    """The active deadline on the ``time.monotonic()`` clock, if any."""
    return _deadline.get()


def remaining() -> float | None:
    """Seconds left in the active budget (None: unbounded); may be negative."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def budget(timeout_s: float) -> Iterator[float]:
    """Bound everything inside to ``timeout_s`` (or less, if an outer budget ends sooner)."""
    deadline = time.monotonic() + timeout_s
    outer = _deadline.get()
    if outer is not None and outer < deadline:
        deadline = outer
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


@dataclass(frozen=True, slots=True)
class NodeAttempt:
    """Where a guarded call runs inside a LangGraph task, if it does."""

    task_id: str
    attempt: int
    first_attempt_monotonic: float


def node_attempt() -> NodeAttempt | None:
    """The LangGraph task running this code (LangGraph's public ``get_runtime``)."""
    try:
        runtime = get_runtime()
    except RuntimeError:  # not inside a runnable
        return None
    if not isinstance(runtime, Runtime) or runtime.execution_info is None:
        return None
    info = runtime.execution_info
    if info.node_first_attempt_time is None or not info.task_id:
        return None
    # Wall-clock anchor converted once to the monotonic clock deadlines use.
    first = time.monotonic() - max(0.0, time.time() - info.node_first_attempt_time)
    return NodeAttempt(info.task_id, info.node_attempt or 1, first)


class TaskFailures:
    """Failed attempts per (LangGraph task, dependency), shared by the node's retries.

    LangGraph re-runs a failed node with its own RetryPolicy; without this, each run
    would retry the dependency again (3 x 3 = 9 attempts). Bounded so it never grows.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._counts: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._max = max_entries
        self._lock = Lock()

    def get(self, task_id: str, dependency: str) -> int:
        return self._counts.get((task_id, dependency), 0)

    def add(self, task_id: str, dependency: str) -> int:
        key = (task_id, dependency)
        with self._lock:
            count = self._counts.pop(key, 0) + 1
            self._counts[key] = count
            while len(self._counts) > self._max:
                self._counts.popitem(last=False)
        return count
