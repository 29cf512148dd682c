"""Triage as a customer meets it in the graph: heard when asking for a person, left alone
when only greeting, thanking or quoting."""

from __future__ import annotations

import uuid
from typing import Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.services import Services
from graphs.support import build_graph

from .conftest import count_rows, turn


async def test_a_misspelt_request_for_a_person_opens_a_ticket(
    graph: Any, services: Services, user: str
) -> None:
    state = await turn(graph, "can i tlak to a real persn pls", user=user)
    assert state["intent"] == "escalate"
    assert [s["kind"] for s in state["signals"]] == ["human_request"]
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 1


async def test_hello_after_two_unanswered_questions_opens_no_ticket(
    graph: Any, services: Services, user: str
) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    for question in ("What is the capital of Peru?", "Who won the 1998 world cup?"):
        missed = await turn(graph, question, user=user, thread=thread)
        assert "don't know" in missed["messages"][-1].text
    assert missed["unresolved_turns"] == 2
    hello = await turn(graph, "hello", user=user, thread=thread)
    assert hello["intent"] != "escalate"
    assert hello["messages"][-1].text.startswith("Hello!")
    tenant = services.settings.tenant_id
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 0


async def test_transfer_money_and_travel_agents_are_answered_by_the_bot(
    graph: Any, user: str
) -> None:
    for message in (
        "transfer £50 to savings",
        "My travel agent booked this for me, can I change the date?",
        "Another person can collect it for me, is that allowed?",
        "WHAT IS YOUR RETURN POLICY FOR OPENED ITEMS",
    ):
        state = await turn(graph, message, user=user)
        assert state["intent"] != "escalate", message
        assert state["signals"] == [], message


def _with_model(services: Services, *replies: str) -> Any:
    model = GenericFakeChatModel(messages=iter([AIMessage(r) for r in replies]))
    return build_graph(services=services, checkpointer=InMemorySaver(), chat_model=model)


async def test_a_configured_model_may_overrule_a_borderline_request(
    services: Services, user: str
) -> None:
    graph = _with_model(services, "no", "Sure, our managers' opening hours are on the site.")
    state = await turn(graph, "speek to a manger", user=user)
    assert state["intent"] != "escalate"
    assert state["signals"] == []
    assert state["messages"][-1].text.startswith("Sure")


async def test_a_configured_model_that_agrees_leaves_the_escalation(
    services: Services, user: str
) -> None:
    graph = _with_model(services, "yes")
    state = await turn(graph, "speek to a manger", user=user)
    assert state["intent"] == "escalate"
    assert [s["kind"] for s in state["signals"]] == ["human_request"]
