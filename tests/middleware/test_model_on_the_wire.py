"""The example agent with ``ChatOpenAI`` on the scripted OpenAI-compatible server: the
middleware applies the graph's ``llm`` policy to a real HTTP model (compare
``tests/graph/test_graph_model_wire.py``)."""

from __future__ import annotations

import json

from langchain_core.messages import AIMessage, ToolMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from agent.services import Services
from graphs.middleware_agent import build_agent
from tests.openai_server import Status, Text, ToolCalls, serve_model
from tools.middleware import UNAVAILABLE_REPLY


def _model(base_url: str) -> ChatOpenAI:
    return ChatOpenAI(model="scripted", base_url=base_url, api_key="k", max_retries=0, timeout=30)


async def test_five_500s_open_the_model_breaker_as_in_the_graph(
    services: Services, user: str
) -> None:
    with serve_model(*[Status(500)] * 5) as server:
        agent = build_agent(services, _model(server.base_url), checkpointer=InMemorySaver())
        replies = [
            (
                await agent.ainvoke(
                    {"messages": [("user", "What is your return policy?")]},
                    {"configurable": {"thread_id": f"wire-{i}"}},
                    context={"user_id": user},
                )
            )["messages"][-1]
            for i in range(6)
        ]
        assert len(server.requests) == 5  # 2 + 2 + 1 attempts; then the breaker is open
    assert services.resilience.breaker_state("llm") == "open"
    codes = [reply.response_metadata["error"]["code"] for reply in replies]
    assert codes[-1] == "circuit_open"
    assert all(isinstance(r, AIMessage) and r.text == UNAVAILABLE_REPLY for r in replies)
    assert await services.escalation.store.afor_customer(services.settings.tenant_id, user) == []


async def test_tool_calls_on_the_wire_run_the_pack_and_answer(
    services: Services, user: str
) -> None:
    with serve_model(
        ToolCalls([("search_knowledge_base", {"query": "return policy"})]),
        Text("Returns are accepted within 30 days."),
    ) as server:
        agent = build_agent(services, _model(server.base_url), checkpointer=InMemorySaver())
        result = await agent.ainvoke(
            {"messages": [("user", "What is your return policy?")]},
            {"configurable": {"thread_id": "wire-tools"}},
            context={"user_id": user},
        )
        first_request = server.requests[0].messages
    [searched] = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert searched.status == "success"
    assert "results" in json.loads(searched.text)
    assert result["messages"][-1].text == "Returns are accepted within 30 days."
    assert first_request[0]["role"] == "system"
