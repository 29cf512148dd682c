"""Escalation: a ticket, a pause for a person, their reply back to the customer, once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langgraph.types import Command

from agent.services import Services
from agent.settings import load_settings
from graphs.support import aopen_checkpointer, build_graph

from .conftest import ANGRY, breaker_open, count_rows, turn


async def _resume(graph: Any, thread: str, answer: Any, user: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    await graph.ainvoke(Command(resume=answer), config, context={"user_id": user})
    snapshot = await graph.aget_state(config)
    return {**snapshot.values, "__interrupt__": snapshot.interrupts}


async def _interrupt_and_resume(graph: Any, services: Services, user: str) -> None:
    tenant = services.settings.tenant_id
    thread = f"t-{uuid.uuid4().hex[:8]}"
    paused = await turn(graph, ANGRY, user=user, thread=thread)
    assert paused["intent"] == "escalate"
    [pending] = paused["__interrupt__"]
    packet = pending.value
    assert packet["type"] == "human_handoff"
    assert packet["priority"] == "high"
    assert packet["customer"] == user
    assert packet["transcript"][-1]["text"] == ANGRY
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 1

    again = await _resume(graph, thread, "   ", user)
    assert again["__interrupt__"][0].value["error"] == "resume with a non-empty reply text"
    done = await _resume(
        graph, thread, {"reply": "Hi, Dana here: a new chair ships today.", "agent": "Dana"}, user
    )
    assert done["__interrupt__"] == ()
    reply = done["messages"][-1]
    assert isinstance(reply, AIMessage)
    assert reply.name == "human_agent"
    assert reply.text == "Hi, Dana here: a new chair ships today."
    assert done["escalation"]["status"] == "answered"
    assert done["escalation"]["ticket_id"] == packet["ticket_id"]
    assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=user) == 1
    replies = count_rows(
        services,
        "ticket_events",
        tenant_id=tenant,
        ticket_id=packet["ticket_id"],
        kind="human_reply",
    )
    assert replies == 1


async def test_interrupt_and_resume_create_one_ticket_sqlite(services: Services, user: str) -> None:
    async with aopen_checkpointer(services.settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        await _interrupt_and_resume(graph, services, user)


@pytest.mark.postgres
async def test_interrupt_and_resume_create_one_ticket_postgres(
    postgres_url: str, tmp_path: Any, user: str
) -> None:
    from storage import migrate
    from storage.engine import Database

    settings = load_settings(
        environment="test", data_dir=tmp_path / "pg", database={"url": postgres_url}
    )
    database = Database(settings.database)
    try:
        migrate.upgrade(database)
    finally:
        database.dispose()
    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        await _interrupt_and_resume(graph, services, user)


async def test_ticket_only_policy_answers_without_pausing(
    graph: Any, services: Services, user: str
) -> None:
    state = await turn(graph, ANGRY, user=user, escalation_policy="ticket_only")
    assert state["__interrupt__"] == ()
    assert state["escalation"]["status"] == "ticket_only"
    assert state["escalation"]["ticket_id"] in state["messages"][-1].text


async def test_ticket_store_down_gives_a_clear_reply(
    graph: Any, services: Services, user: str
) -> None:
    with breaker_open(services, "tickets"):
        state = await turn(graph, ANGRY, user=user)
    assert state["__interrupt__"] == ()
    assert state["escalation"]["status"] == "failed"
    assert "couldn't open a support ticket" in state["messages"][-1].text
    assert (
        count_rows(services, "tickets", tenant_id=services.settings.tenant_id, customer_ref=user)
        == 0
    )


async def test_never_policy_answers_an_angry_customer_itself(graph: Any, user: str) -> None:
    state = await turn(graph, ANGRY, user=user, escalation_policy="never")
    assert state["__interrupt__"] == ()
    assert state["intent"] == "question"
    assert state["signals"], "signals are still reported"


async def test_repeated_unanswered_turns_escalate(graph: Any, user: str) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    for question in ("What is the capital of Peru?", "What is the capital of Chile?"):
        unanswered = await turn(graph, question, user=user, thread=thread)
        assert "don't know" in unanswered["messages"][-1].text
    third = await turn(graph, "And the capital of Bolivia?", user=user, thread=thread)
    [pending] = third["__interrupt__"]
    assert pending.value["reason"] == "repeated_failure"
