"""Node logic written once, run sync or async.

A node's logic is a generator that ``yield``s each dependency call it needs (a ``Call``
with both the sync and the async callable) and gets the result back, or the ``ToolError``
thrown in at the ``yield``. ``run`` executes the calls synchronously (``graph.invoke``),
``arun`` awaits them (``graph.ainvoke``, ``langgraph dev``); both go through the resilience
decorator. So the graph has one implementation of every node and both LangGraph APIs,
without running an event loop inside a sync call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tools.errors import ToolError

if TYPE_CHECKING:
    from tools.resilience import Resilience


@dataclass(frozen=True)
class Call:
    """One dependency call; ``dependency=None`` when the callee guards itself."""

    dependency: str | None
    operation: str
    sync: Callable[..., Any]
    async_: Callable[..., Awaitable[Any]]
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    retry: bool = True


Plan = Generator[Call, Any, dict[str, Any]]


def _wrapped(resilience: Resilience, call: Call, func: Callable[..., Any]) -> Callable[..., Any]:
    if call.dependency is None:
        return func
    return resilience.guard(call.dependency, operation=call.operation, retry=call.retry)(func)


def run(plan: Plan, resilience: Resilience) -> dict[str, Any]:
    """Drive ``plan`` with synchronous calls."""
    value: Any = None
    error: ToolError | None = None
    while True:
        try:
            call = plan.throw(error) if error is not None else plan.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = _wrapped(resilience, call, call.sync)(*call.args, **call.kwargs)
        except ToolError as exc:
            error = exc


async def arun(plan: Plan, resilience: Resilience) -> dict[str, Any]:
    """Drive ``plan`` on the event loop."""
    value: Any = None
    error: ToolError | None = None
    while True:
        try:
            call = plan.throw(error) if error is not None else plan.send(value)
        except StopIteration as stop:
            return stop.value
        value, error = None, None
        try:
            value = await _wrapped(resilience, call, call.async_)(*call.args, **call.kwargs)
        except ToolError as exc:
            error = exc
