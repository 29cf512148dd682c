"""The same graph through LangGraph's sync API (``invoke``), for callers without a loop."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command

from agent.services import Services
from graphs.support import build_graph, open_checkpointer

from .conftest import ANGRY, count_rows


def _invoke(graph: Any, payload: Any, thread: str, user: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    graph.invoke(payload, config, context={"user_id": user})
    snapshot = graph.get_state(config)
    return {**snapshot.values, "__interrupt__": snapshot.interrupts}


def test_sync_invoke_answers_escalates_and_resumes_once(services: Services, user: str) -> None:
    with open_checkpointer(services.settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        answered = _invoke(
            graph,
            {"messages": [HumanMessage("Which payment methods do you accept?")]},
            f"t-{uuid.uuid4().hex[:8]}",
            user,
        )
        assert "Visa" in answered["messages"][-1].text
        assert answered["sources"]

        thread = f"t-{uuid.uuid4().hex[:8]}"
        paused = _invoke(graph, {"messages": [HumanMessage(ANGRY)]}, thread, user)
        [pending] = paused["__interrupt__"]
        done = _invoke(graph, Command(resume="A person here: we are on it."), thread, user)
    assert done["messages"][-1].text == "A person here: we are on it."
    assert done["escalation"]["ticket_id"] == pending.value["ticket_id"]
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 1
