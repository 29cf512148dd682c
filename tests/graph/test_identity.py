"""Who a conversation is with, from Python: nobody by default, and never someone else."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from sqlalchemy import text

from agent.services import Services
from tools.runtime import IdentityMismatchError

from .conftest import ANGRY, count_rows, turn


async def _anonymous(graph: Any, text: str, thread: str) -> dict[str, Any]:
    config = {"configurable": {"thread_id": thread}}
    await graph.ainvoke({"messages": [HumanMessage(text)]}, config)
    return dict((await graph.aget_state(config)).values)


async def test_a_run_without_a_customer_keeps_and_recalls_nothing(
    graph: Any, services: Services
) -> None:
    token = uuid.uuid4().hex[:10]
    first = await _anonymous(graph, f"My email is anon.{token}@example.com.", f"a-{token}")
    assert first["remembered"] == []
    assert first["owner"] is None
    second = await _anonymous(graph, "What is my email address?", f"b-{token}")
    assert second["memories"] == []
    assert token not in repr(second)
    with services.database.transaction() as connection:
        stored = connection.execute(
            text("SELECT count(*) FROM memories WHERE content LIKE :token"),
            {"token": f"%{token}%"},
        ).scalar_one()
    assert stored == 0


async def test_anonymous_visitors_never_share_a_ticket(graph: Any, services: Services) -> None:
    tenant = services.settings.tenant_id
    threads = [f"anon-{uuid.uuid4().hex[:8]}" for _ in range(2)]
    for thread in threads:
        await _anonymous(graph, ANGRY, thread)
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread}})
        [pending] = snapshot.interrupts
        assert pending.value["customer"] is None
    for thread in threads:
        ref = f"conversation:{thread}"
        assert count_rows(services, "tickets", tenant_id=tenant, customer_ref=ref) == 1


async def test_a_thread_stays_with_the_customer_it_started_with(graph: Any, user: str) -> None:
    thread = f"t-{uuid.uuid4().hex[:8]}"
    await turn(graph, "Do you ship to Canada?", user=user, thread=thread)
    with pytest.raises(IdentityMismatchError):
        await turn(graph, "What did we talk about?", user=f"{user}-x", thread=thread)
    with pytest.raises(IdentityMismatchError):
        await _anonymous(graph, "What did we talk about?", thread)
