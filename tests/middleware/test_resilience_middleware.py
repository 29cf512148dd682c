"""ResilienceMiddleware in a ``create_agent`` driven by a scripted model: the same guard as
our graph (breaker, rate limit, retries), structured error messages, interrupts untouched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import ToolRetryMiddleware
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command, interrupt

from storage.config import RedisConfig
from storage.redis import RedisHandle
from tools.middleware import UNAVAILABLE_REPLY, ResilienceMiddleware
from tools.resilience import Resilience, ResilienceConfig

from .conftest import ScriptedModel, call, scripted

DONE = AIMessage("done")


@pytest.fixture(params=["in-process", "redis"])
def resilience(request: pytest.FixtureRequest) -> Iterator[Resilience]:
    """The same policies with in-process state, and shared through the real Redis."""
    config = ResilienceConfig(
        dependencies={
            "weather": {"fail_max": 2, "max_attempts": 1},
            "flaky": {"max_attempts": 3, "backoff_initial_s": 0, "backoff_max_s": 0},
            "limited": {"rate_limit_tool": "1/minute"},
            "llm": {"fail_max": 1, "max_attempts": 1},
        }
    )
    handle = None
    if request.param == "redis":
        url, prefix = (request.getfixturevalue(name) for name in ("redis_url", "redis_prefix"))
        handle = RedisHandle.from_config(
            RedisConfig(url=url, key_prefix=prefix, socket_timeout_s=0.5)
        )
    with Resilience(config, handle) as built:
        yield built
    if handle is not None:
        handle.close()


class Counter:
    def __init__(self) -> None:
        self.calls = 0


def _errors(result: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        json.loads(m.text)["error"]
        for m in result["messages"]
        if isinstance(m, ToolMessage) and m.status == "error"
    ]


@pytest.mark.parametrize("api", ["async", "sync"])
async def test_breaker_opens_and_later_calls_never_reach_the_tool(
    resilience: Resilience, api: str
) -> None:
    counter = Counter()

    @tool
    def get_weather(city: str) -> str:
        """Weather for a city."""
        counter.calls += 1
        raise ConnectionError("weather service unreachable at http://user:secret@host")

    model = scripted(*(call("get_weather", {"city": "Oslo"}) for _ in range(3)), DONE)
    agent = create_agent(
        model,
        tools=[get_weather],
        middleware=[ResilienceMiddleware(resilience, tools={"get_weather": "weather"})],
    )
    message = {"messages": [("user", "weather in Oslo?")]}
    if api == "async":
        result = await agent.ainvoke(message)
    else:
        result = await asyncio.to_thread(agent.invoke, message)
    errors = _errors(result)
    assert [e["code"] for e in errors] == ["dependency_error", "dependency_error", "circuit_open"]
    assert errors[2]["retryable"] is True
    assert errors[2]["dependency"] == "weather"
    assert counter.calls == 2
    assert resilience.breaker_state("weather") == "open"
    assert all("secret" not in json.dumps(e) for e in errors)
    assert result["messages"][-1].text == "done"


async def test_rate_limit_answers_the_model_with_retry_after(resilience: Resilience) -> None:
    counter = Counter()

    @tool
    def lookup(term: str) -> str:
        """Look something up."""
        counter.calls += 1
        return f"found {term}"

    model = scripted(call("lookup", {"term": "a"}), call("lookup", {"term": "b"}), DONE)
    agent = create_agent(
        model,
        tools=[lookup],
        middleware=[ResilienceMiddleware(resilience, tools={"lookup": "limited"})],
    )
    result = await agent.ainvoke(
        {"messages": [("user", "look up a and b")]},
        {"configurable": {"tenant_id": "acme", "user_id": "c-1", "thread_id": "s-1"}},
    )
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tool_messages[0].status == "success"
    assert tool_messages[0].text == "found a"
    [limited] = _errors(result)
    assert limited["code"] == "rate_limited"
    assert limited["retry_after_s"] > 0
    assert counter.calls == 1


async def test_retries_are_not_multiplied_by_tool_retry_middleware(
    resilience: Resilience,
) -> None:
    counter = Counter()

    @tool
    def fetch(item: str) -> str:
        """Fetch an item."""
        counter.calls += 1
        raise ConnectionError("down")

    model = scripted(call("fetch", {"item": "x"}), DONE)
    agent = create_agent(
        model,
        tools=[fetch],
        middleware=[
            ToolRetryMiddleware(max_retries=4, initial_delay=0, jitter=False),
            ResilienceMiddleware(resilience, tools={"fetch": "flaky"}),
        ],
    )
    result = await agent.ainvoke({"messages": [("user", "fetch x")]})
    [error] = _errors(result)
    assert error["code"] == "dependency_error"
    assert counter.calls == 3  # the guard's max_attempts, not 3 x 5


@pytest.mark.parametrize("retry_first", [True, False])
async def test_interrupt_in_a_tool_reaches_the_caller_untouched(
    resilience: Resilience, retry_first: bool
) -> None:
    @tool
    def refund(order: str) -> str:
        """Refund an order after a person approves."""
        answer = interrupt({"question": f"refund {order}?"})
        return f"refund {order}: {answer}"

    ours = ResilienceMiddleware(resilience, tools={"refund": "payments"})
    retry = ToolRetryMiddleware(max_retries=3, initial_delay=0)
    model = scripted(call("refund", {"order": "W1"}), DONE)
    agent = create_agent(
        model,
        tools=[refund],
        middleware=[retry, ours] if retry_first else [ours, retry],
        checkpointer=InMemorySaver(),
    )
    config = {"configurable": {"thread_id": f"interrupt-{retry_first}"}}
    paused = await agent.ainvoke({"messages": [("user", "refund W1")]}, config)
    [pending] = paused["__interrupt__"]
    assert pending.value == {"question": "refund W1?"}
    assert not any(isinstance(m, ToolMessage) for m in paused["messages"])
    assert resilience.breaker("payments").fail_counter == 0
    resumed = await agent.ainvoke(Command(resume="approved"), config)
    [result] = [m for m in resumed["messages"] if isinstance(m, ToolMessage)]
    assert (result.status, result.text) == ("success", "refund W1: approved")


async def test_model_failures_trip_the_model_breaker_and_answer_politely(
    resilience: Resilience,
) -> None:
    counter = Counter()

    class Unreachable(ScriptedModel):
        def _generate(self, *args: Any, **kwargs: Any) -> Any:
            counter.calls += 1
            raise ConnectionError("model endpoint down")

    model = Unreachable(messages=iter([]))
    agent = create_agent(model, tools=[], middleware=[ResilienceMiddleware(resilience)])
    first = await agent.ainvoke({"messages": [("user", "hello")]})
    second = await agent.ainvoke({"messages": [("user", "hello again")]})
    for result, code in ((first, "dependency_error"), (second, "circuit_open")):
        reply = result["messages"][-1]
        assert isinstance(reply, AIMessage)
        assert reply.text == UNAVAILABLE_REPLY
        assert reply.response_metadata["error"]["code"] == code
    assert counter.calls == 1
