"""The decorator inside real LangGraph nodes: node retries share one budget, interrupts pass."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypedDict

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, RetryPolicy, interrupt

from tools.errors import DependencyError, DependencyTimeoutError
from tools.resilience import Resilience


class State(TypedDict, total=False):
    answer: str


NODE_RETRY = RetryPolicy(max_attempts=3, initial_interval=0.01, jitter=False)


def _graph(node: Callable[[State], State], **compile_options: object) -> object:
    builder = StateGraph(State)
    builder.add_node("lookup", node, retry_policy=NODE_RETRY)
    builder.add_edge(START, "lookup")
    builder.add_edge("lookup", END)
    return builder.compile(**compile_options)


def test_node_retry_does_not_multiply_attempts(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(max_attempts=3, fail_max=100)
    attempts = 0
    node_runs = 0

    @resilience.guard("crm")
    def fetch() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("crm down")

    def lookup(state: State) -> State:
        nonlocal node_runs
        node_runs += 1
        return {"answer": fetch()}

    with pytest.raises(DependencyError):
        _graph(lookup).invoke({})
    assert node_runs == 3  # LangGraph did retry the node...
    assert attempts == 3  # ...but the dependency saw one budget of 3 attempts, not 3 x 3


async def test_async_node_retry_does_not_multiply_attempts(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(max_attempts=2, fail_max=100)
    attempts = 0

    @resilience.guard("crm")
    async def fetch() -> str:
        nonlocal attempts
        attempts += 1
        raise ConnectionError("crm down")

    async def lookup(state: State) -> State:
        return {"answer": await fetch()}

    with pytest.raises(DependencyError):
        await _graph(lookup).ainvoke({})
    assert attempts == 2


async def test_node_retries_share_one_deadline(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(
        timeout_s=0.1, total_timeout_s=0.3, max_attempts=10, fail_max=100, backoff_initial_s=0
    )
    attempts = node_runs = 0

    @resilience.guard("crm")
    async def fetch() -> str:
        nonlocal attempts
        attempts += 1
        await asyncio.sleep(10)
        return "never"

    async def lookup(state: State) -> State:
        nonlocal node_runs
        node_runs += 1
        return {"answer": await fetch()}

    with pytest.raises(DependencyTimeoutError):
        await _graph(lookup).ainvoke({})
    assert node_runs == 3
    # ~3 attempts fit in the 0.3 s budget; the node's retries found it already spent
    # (with a fresh budget per node run there would be ~9).
    assert attempts <= 4


def test_node_retry_succeeds_when_the_dependency_recovers(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(max_attempts=3, fail_max=100)
    failures = [ConnectionError("blip")]

    @resilience.guard("crm")
    def fetch() -> str:
        if failures:
            raise failures.pop()
        return "found"

    assert _graph(lambda state: {"answer": fetch()}).invoke({}) == {"answer": "found"}


def test_interrupt_inside_a_guarded_call_reaches_the_graph(
    make_resilience: Callable[..., Resilience],
) -> None:
    resilience = make_resilience(max_attempts=3, fail_max=1)
    calls = 0

    @resilience.guard("tickets")
    def ask_human() -> str:
        nonlocal calls
        calls += 1
        return interrupt("approve the refund?")

    graph = _graph(lambda state: {"answer": ask_human()}, checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    paused = graph.invoke({}, config)
    assert paused["__interrupt__"][0].value == "approve the refund?"
    assert calls == 1  # not retried
    assert resilience.breaker_state("tickets") == "closed"  # not a failure
    assert graph.invoke(Command(resume="yes"), config) == {"answer": "yes"}
