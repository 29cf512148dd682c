"""The graph with a real chat model on the wire: the scripted OpenAI-compatible server.

``build_graph`` gets ``ChatOpenAI`` pointed at ``tests/openai_server``; everything else is
the real services (the ``llm`` policy, breakers, tickets, the offline responder).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.tools import BaseTool
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from agent.services import Services
from graphs.support import build_graph
from tests.openai_server import ModelServer, Status, Text, ToolCalls, serve_model

from .conftest import ANGRY, count_rows, turn


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with serve_model() as server:
        yield server


def _graph(services: Services, server: ModelServer, **kwargs: Any) -> Any:
    model = ChatOpenAI(
        model="scripted", base_url=server.base_url, api_key="k", max_retries=0, timeout=30
    )
    return build_graph(services=services, checkpointer=InMemorySaver(), chat_model=model, **kwargs)


async def test_five_500s_open_the_breaker_and_ten_conversations_are_answered_offline(
    services: Services, model_server: ModelServer, user: str
) -> None:
    model_server.script(*[Status(500)] * 5)
    graph = _graph(services, model_server)
    states = [await turn(graph, "What is your return policy?", user=user) for _ in range(13)]
    assert len(model_server.requests) == 5  # 2 + 2 + 1 attempts; then the breaker is open
    assert services.resilience.breaker_state("llm") == "open"
    for state in states:
        assert not state["__interrupt__"]
        assert "30 days" in state["messages"][-1].text
        assert "llm" in state["degraded"]
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 0


async def test_invalid_tool_arguments_get_one_repair_then_an_answer(
    services: Services, model_server: ModelServer, user: str
) -> None:
    tools: list[BaseTool] = services.registry.tools
    model_server.script(
        ToolCalls([("search_knowledge_base", '{"query": return policy}')]),
        Text("Returns are accepted within 30 days [1]."),
    )
    state = await turn(_graph(services, model_server, tools=tools), "Returns?", user=user)
    assert state["messages"][-1].text == "Returns are accepted within 30 days [1]."
    [error] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert error.status == "error"
    assert '"code": "invalid_input"' in error.content
    assert "llm" not in state.get("degraded", [])
    assert len(model_server.requests) == 2


async def test_still_invalid_after_the_repair_is_answered_offline(
    services: Services, model_server: ModelServer, user: str
) -> None:
    tools: list[BaseTool] = services.registry.tools
    model_server.script(
        ToolCalls([("search_knowledge_base", "{not json")]),
        ToolCalls([("search_knowledge_base", "{still not json")]),
    )
    state = await turn(
        _graph(services, model_server, tools=tools), "What is your return policy?", user=user
    )
    last = state["messages"][-1]
    assert isinstance(last, AIMessage)
    assert "30 days" in last.text
    assert "llm" in state["degraded"]
    assert not any(isinstance(m, ToolMessage) for m in state["messages"])


async def test_two_concurrent_resumes_record_one_human_reply(
    services: Services, model_server: ModelServer, user: str
) -> None:
    graph = _graph(services, model_server)
    thread = f"t-{uuid.uuid4().hex[:8]}"
    paused = await turn(graph, ANGRY, user=user, thread=thread)
    [pending] = paused["__interrupt__"]
    ticket_id = pending.value["ticket_id"]
    config = {"configurable": {"thread_id": thread}}
    answer = {"reply": "Hi, Dana here: a new chair ships today.", "agent": "Dana"}
    await asyncio.gather(
        *(
            graph.ainvoke(Command(resume=answer), config, context={"user_id": user})
            for _ in range(2)
        )
    )
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 1
    replies = count_rows(
        services, "ticket_events", tenant_id=tenant, ticket_id=ticket_id, kind="human_reply"
    )
    assert replies == 1
