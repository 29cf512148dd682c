"""The model path with LangChain's fake chat models scripting the tool calls."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import (
    FakeMessagesListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver

from agent.services import Services
from graphs.support import build_graph

from .conftest import MAYA, MAYA_ORDER, breaker_open, count_rows, turn


@pytest.fixture(scope="module")
def tools(services: Services) -> list[BaseTool]:
    """The whole tool pack, as the registry built it for the running services."""
    assert services.registry.unavailable == {}
    return services.registry.tools


def _call(name: str, args: dict[str, Any], call_id: str = "call-1") -> AIMessage:
    return AIMessage("", tool_calls=[{"name": name, "args": args, "id": call_id}])


def _graph(services: Services, tools: list[BaseTool], *responses: BaseMessage) -> Any:
    model = GenericFakeChatModel(messages=iter(responses))
    return build_graph(
        services=services, checkpointer=InMemorySaver(), chat_model=model, tools=tools
    )


def _tool_messages(state: dict[str, Any]) -> list[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


async def test_model_looks_up_an_order_through_the_tool_node(
    services: Services, tools: list[BaseTool]
) -> None:
    graph = _graph(
        services,
        tools,
        _call("get_order", {"order_id": MAYA_ORDER, "customer_id": MAYA}),
        AIMessage("Your order #W1000101 has been processed and is on its way."),
    )
    state = await turn(graph, f"Where is my order {MAYA_ORDER}?", user=MAYA)
    [result] = _tool_messages(state)
    assert result.status == "success"
    assert json.loads(result.content)["order"]["status"] == "processed"
    assert state["messages"][-1].text.startswith("Your order #W1000101 has been processed")
    assert state["tool_rounds"] == 1


async def test_tool_errors_come_back_structured_and_the_model_recovers(
    services: Services, tools: list[BaseTool], user: str
) -> None:
    graph = _graph(
        services,
        tools,
        _call("get_order", {"order_id": "#W9999999"}, "call-1"),
        _call("get_order", {"order_id": 12345}, "call-2"),
        AIMessage("I could not find that order. Could you check the number?"),
    )
    state = await turn(graph, "Where is my order #W9999999?", user=user)
    missing, invalid = _tool_messages(state)
    assert missing.status == "error"
    assert json.loads(missing.content)["error"]["code"] == "not_found"
    assert invalid.status == "error"
    assert json.loads(invalid.content)["error"]["code"] == "invalid_input"
    assert state["messages"][-1].text.startswith("I could not find that order")


async def test_model_escalation_tool_creates_one_ticket(
    services: Services, tools: list[BaseTool], user: str
) -> None:
    arguments = {"reason": "billing", "summary": "Customer disputes a charge on their card."}
    graph = _graph(
        services,
        tools,
        _call("escalate_to_human", arguments, "call-1"),
        _call("escalate_to_human", arguments, "call-2"),
        AIMessage("A colleague from billing will contact you."),
    )
    state = await turn(graph, "I have a question about a charge on my card.", user=user)
    first, second = _tool_messages(state)
    assert json.loads(first.content)["created"] is True
    assert json.loads(second.content)["created"] is False
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 1


async def test_open_llm_breaker_answers_offline_without_a_ticket(
    services: Services, tools: list[BaseTool], user: str
) -> None:
    """A model outage degrades to the offline responder; it never floods the human queue."""
    graph = _graph(services, tools, AIMessage("never used"))
    with breaker_open(services, "llm"):
        offline = await turn(graph, "What is your return policy?", user=user)
    assert not offline["__interrupt__"]
    assert "30 days" in offline["messages"][-1].text
    assert "Sources: [1]" in offline["messages"][-1].text
    assert "llm" in offline["degraded"]
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 0


class _DownModel(FakeMessagesListChatModel):
    """A chat model whose endpoint refuses connections."""

    def _generate(self, *args: Any, **kwargs: Any) -> ChatResult:
        raise ConnectionError("connection refused")


async def test_failing_model_falls_back_to_the_offline_answer(
    services: Services, tools: list[BaseTool], user: str
) -> None:
    graph = build_graph(
        services=services,
        checkpointer=InMemorySaver(),
        chat_model=_DownModel(responses=[]),
        tools=tools,
    )
    answered = await turn(graph, "Which payment methods do you accept?", user=user)
    assert "Visa" in answered["messages"][-1].text
    assert "llm" in answered["degraded"]
    unknown = await turn(graph, "What is the capital of Peru?", user=user)
    assert "assistant service is unavailable" in unknown["messages"][-1].text


async def test_tool_loop_stops_after_max_rounds(
    services: Services, tools: list[BaseTool], user: str
) -> None:
    search = {"query": "return policy"}
    graph = _graph(
        services,
        tools,
        *(_call("search_knowledge_base", search, f"call-{i}") for i in range(5)),
    )
    state = await turn(graph, "What is your return policy?", user=user, max_tool_rounds=2)
    assert len(_tool_messages(state)) == 2
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    assert not last.tool_calls
    assert "30 days" in last.text


def test_chat_model_comes_from_the_settings(make_settings: Any) -> None:
    from langchain_openai import ChatOpenAI

    from graphs.support.model import build_chat_model

    settings = make_settings(
        llm={"model": "llama3.1", "base_url": "http://127.0.0.1:11434/v1", "api_key": "k-123"}
    )
    model = build_chat_model(settings.llm, "llama3.1")
    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "llama3.1"
    assert model.openai_api_base == "http://127.0.0.1:11434/v1"
    assert model.openai_api_key.get_secret_value() == "k-123"
    assert model.max_retries == 0


async def test_unreachable_model_endpoint_degrades_to_an_honest_reply(
    make_settings: Any, user: str
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    settings = make_settings(
        llm={"model": "gpt-4o-mini", "base_url": f"http://127.0.0.1:{closed_port}/v1"}
    )
    async with await Services.open(settings) as services:
        graph = build_graph(services=services, checkpointer=InMemorySaver())
        state = await turn(graph, "What is the capital of Peru?", user=user)
    assert "llm" in state["degraded"]
    assert "assistant service is unavailable" in state["messages"][-1].text


async def test_a_crashing_tool_becomes_a_structured_error(services: Services, user: str) -> None:
    from langchain_core.tools import tool

    @tool
    def check_stock(item: str) -> str:
        """Check whether an item is in stock."""
        raise RuntimeError("inventory service returned garbage")

    graph = _graph(
        services,
        [check_stock],
        _call("check_stock", {"item": "kettle"}),
        AIMessage("I can't check stock right now."),
    )
    state = await turn(graph, "Is the kettle in stock?", user=user)
    [result] = _tool_messages(state)
    assert result.status == "error"
    error = json.loads(result.content)["error"]
    assert error["code"] == "tool_error"
    assert "garbage" not in error["message"]
    assert state["messages"][-1].text == "I can't check stock right now."
