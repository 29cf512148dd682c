"""One ticket per idempotency key and per active customer+reason, under any concurrency."""

from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any, TypedDict

import pytest
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt

from storage.engine import Database
from storage.tickets import TicketResult
from tools.errors import NotFoundError
from tools.escalation import EscalationService

from .conftest import call, scoped, ticket_count

WORKERS = 8


def request(tenant: str, **overrides: Any) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "reason": "human_request",
        "summary": "Customer wants a person to approve a refund for order #W2611340.",
        "priority": "high",
        "customer_ref": "u-1",
        "conversation_ref": "thread-1",
        **overrides,
    }


def _in_threads(work: Any) -> list[TicketResult]:
    barrier = threading.Barrier(WORKERS)

    def run(index: int) -> TicketResult:
        barrier.wait()
        return work(index)

    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(run, range(WORKERS)))


def test_concurrent_threads_with_one_key_create_one_ticket(
    service: EscalationService, tickets_db: Database, tenant: str
) -> None:
    results = _in_threads(lambda _: service.escalate(**request(tenant, idempotency_key="k-1")))
    assert len({r.ticket.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert {r.duplicate_of for r in results if not r.created} == {"idempotency_key"}
    assert ticket_count(tickets_db, tenant) == 1


def test_concurrent_requests_for_one_customer_and_reason_share_a_ticket(
    service: EscalationService, tickets_db: Database, tenant: str
) -> None:
    results = _in_threads(
        lambda i: service.escalate(**request(tenant, idempotency_key=f"k-{i}", summary=f"try {i}"))
    )
    [ticket_id] = {r.ticket.id for r in results}
    assert ticket_count(tickets_db, tenant) == 1
    events = service.store.events(tenant, ticket_id)
    duplicates = [e for e in events if e["kind"] == "duplicate_request"]
    assert len(duplicates) == WORKERS - 1
    assert {e["detail"]["summary"] for e in duplicates} | {
        next(r.ticket.summary for r in results if r.created)
    } == {f"try {i}" for i in range(WORKERS)}


async def test_concurrent_tasks_with_one_key_create_one_ticket(
    service: EscalationService, tickets_db: Database, tenant: str
) -> None:
    results = await asyncio.gather(
        *(service.aescalate(**request(tenant, idempotency_key="k-async")) for _ in range(WORKERS))
    )
    assert len({r.ticket.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert ticket_count(tickets_db, tenant) == 1


async def test_concurrent_tool_calls_create_one_ticket(
    escalate_tool: BaseTool, tickets_db: Database, tenant: str
) -> None:
    args = {"reason": "legal", "summary": "Customer threatens to sue over a late refund."}
    config = scoped(tenant, idempotency_key="turn-7")
    messages = await asyncio.gather(
        *(
            escalate_tool.ainvoke(
                {"type": "tool_call", "id": f"c{i}", "name": escalate_tool.name, "args": args},
                config=config,
            )
            for i in range(WORKERS)
        )
    )
    assert {m.status for m in messages} == {"success"}
    assert len({m.artifact["ticket_id"] for m in messages}) == 1
    assert sum(m.artifact["created"] for m in messages) == 1
    assert ticket_count(tickets_db, tenant) == 1


class _State(TypedDict, total=False):
    ticket_id: str
    created: bool
    human: str


def test_a_resumed_graph_run_finds_its_ticket(
    escalate_tool: BaseTool, tickets_db: Database, tenant: str
) -> None:
    """LangGraph re-runs an interrupted node on resume; the tool call inside runs twice."""
    seen: list[dict[str, Any]] = []

    def escalate(state: _State, config: RunnableConfig) -> _State:
        message = escalate_tool.invoke(
            {
                "type": "tool_call",
                "id": "call-1",
                "name": escalate_tool.name,
                "args": {
                    "reason": "safety",
                    "summary": "Charger caught fire.",
                    "priority": "urgent",
                },
            },
            config=config,
        )
        seen.append(message.artifact)
        human = interrupt({"ticket_id": message.artifact["ticket_id"]})
        return {"ticket_id": message.artifact["ticket_id"], "human": human}

    builder = StateGraph(_State)
    builder.add_node("escalate", escalate)
    builder.add_edge(START, "escalate")
    builder.add_edge("escalate", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {
        "configurable": {"thread_id": f"thread-{tenant}", "tenant_id": tenant, "user_id": "u-9"}
    }
    first = graph.invoke({}, config)
    assert "__interrupt__" in first
    final = graph.invoke(Command(resume="A human took over"), config)
    assert final["human"] == "A human took over"
    assert [s["created"] for s in seen] == [True, False]
    assert seen[1]["duplicate_of"] == "idempotency_key"
    assert final["ticket_id"] == seen[0]["ticket_id"]
    assert ticket_count(tickets_db, tenant) == 1


def test_resolving_a_ticket_allows_a_new_one(service: EscalationService, tenant: str) -> None:
    first = service.escalate(**request(tenant, idempotency_key="a"))
    assert service.store.update(tenant, first.ticket.id, "status", {}, status="resolved")
    second = service.escalate(**request(tenant, idempotency_key="b"))
    assert second.created
    assert second.ticket.id != first.ticket.id
    replay = service.escalate(**request(tenant, idempotency_key="a"))
    assert replay.ticket.id == first.ticket.id
    assert replay.ticket.status == "resolved"


@pytest.mark.parametrize(
    ("priority", "minutes"), [("urgent", 60), ("high", 240), ("normal", 1440), ("low", 4320)]
)
def test_sla_due_time_follows_priority(
    service: EscalationService, tenant: str, priority: str, minutes: int
) -> None:
    result = service.escalate(**request(tenant, priority=priority, reason="billing"))
    ticket = result.ticket
    assert ticket.sla_due_at - ticket.created_at == pytest.approx(
        timedelta(minutes=minutes), abs=timedelta(seconds=2)
    )
    assert ticket.handoff["sla_due_at"] == ticket.sla_due_at.isoformat()


def test_handoff_packet_has_what_a_human_needs(
    escalate_tool: BaseTool, tenant: str, service: EscalationService
) -> None:
    message = call(
        escalate_tool,
        {
            "reason": "repeated_failure",
            "summary": "Tracking shows delivered but the parcel never arrived; two searches failed.",
            "priority": "high",
            "customer_id": "noah_brown_6181",
            "evidence": ["order #W7678072", "tracking 357962501027"],
        },
        scoped(tenant, thread_id="thread-42", role="agent"),
    )
    ticket = service.store.get(tenant, message.artifact["ticket_id"])
    assert ticket is not None
    packet = ticket.handoff
    assert packet["summary"].startswith("Tracking shows delivered")
    assert packet["reason"] == "repeated_failure"
    assert packet["requested_priority"] == "high"
    assert packet["customer"] == {"ref": "u-1", "customer_id": "noah_brown_6181"}
    assert packet["conversation"] == {"ref": "thread-42"}
    assert packet["evidence"] == ["order #W7678072", "tracking 357962501027"]
    assert ticket.conversation_ref == "thread-42"
    assert "ticket" in message.artifact["next_step"]


def test_a_customers_ticket_is_about_themselves_whatever_the_model_says(
    escalate_tool: BaseTool, tenant: str, service: EscalationService
) -> None:
    message = call(
        escalate_tool,
        {"reason": "other", "summary": "Please call me back.", "customer_id": "someone_else"},
        scoped(tenant, thread_id="thread-43"),
    )
    ticket = service.store.get(tenant, message.artifact["ticket_id"])
    assert ticket is not None
    assert ticket.handoff["customer"] == {"ref": "u-1", "customer_id": "u-1"}


def test_tenants_never_share_tickets(service: EscalationService, tenant: str) -> None:
    other = f"{tenant}-other"
    mine = service.escalate(**request(tenant, idempotency_key="same"))
    theirs = service.escalate(**request(other, idempotency_key="same"))
    assert mine.created
    assert theirs.created
    assert mine.ticket.id != theirs.ticket.id
    assert service.store.get(other, mine.ticket.id) is None
    assert service.store.events(other, mine.ticket.id) == []


async def test_a_human_reply_is_kept_on_the_ticket(service: EscalationService, tenant: str) -> None:
    result = await service.aescalate(**request(tenant))
    await service.arecord_reply(tenant, result.ticket.id, "Refund approved.", agent="Ana")
    ticket = await service.store.aget(tenant, result.ticket.id)
    assert ticket is not None
    assert ticket.status == "in_progress"
    replies = [e for e in service.store.events(tenant, ticket.id) if e["kind"] == "human_reply"]
    assert replies[0]["detail"] == {"reply": "Refund approved.", "agent": "Ana"}
    with pytest.raises(NotFoundError):
        await service.arecord_reply(f"{tenant}-x", result.ticket.id, "nope")


async def test_concurrent_resumes_of_one_handoff_record_one_reply(
    service: EscalationService, tenant: str
) -> None:
    """Two resumes of the same interrupted turn (a double click in the help desk, a client
    retry) race to record the human's reply: the database keeps one."""
    result = await service.aescalate(**request(tenant, idempotency_key="turn:t-1:1"))
    ticket_id = result.ticket.id
    recorded = await asyncio.gather(
        *(
            service.arecord_reply(tenant, ticket_id, "Refund approved.", reply_key="turn:t-1:1")
            for _ in range(2)
        ),
        asyncio.to_thread(
            service.record_reply, tenant, ticket_id, "Refund approved.", reply_key="turn:t-1:1"
        ),
    )
    assert sorted(recorded) == [False, False, True]
    replies = [e for e in service.store.events(tenant, ticket_id) if e["kind"] == "human_reply"]
    assert len(replies) == 1
    assert replies[0]["detail"]["reply"] == "Refund approved."
    # A later handoff on the same ticket is another reply.
    assert service.record_reply(tenant, ticket_id, "Done.", reply_key="turn:t-1:2")
    replies = [e for e in service.store.events(tenant, ticket_id) if e["kind"] == "human_reply"]
    assert [r["detail"]["reply"] for r in replies] == ["Refund approved.", "Done."]


async def test_purge_erases_one_customers_tickets_only(
    service: EscalationService, tickets_db: Database, tenant: str
) -> None:
    mine = service.escalate(**request(tenant, customer_ref="erase-me", idempotency_key="m"))
    service.escalate(**request(tenant, customer_ref="erase-me", reason="legal"))
    kept = service.escalate(**request(tenant, customer_ref="keep-me"))
    other_tenant = service.escalate(**request(f"{tenant}-b", customer_ref="erase-me"))
    assert service.store.purge(tenant, "erase-me") == 2
    assert service.store.get(tenant, mine.ticket.id) is None
    assert service.store.events(tenant, mine.ticket.id) == []
    assert service.store.get(tenant, kept.ticket.id) is not None
    assert service.store.get(f"{tenant}-b", other_tenant.ticket.id) is not None
    assert await service.store.apurge(f"{tenant}-b", "erase-me") == 1
    assert ticket_count(tickets_db, tenant) == 1
    again = service.escalate(**request(tenant, customer_ref="erase-me", idempotency_key="m"))
    assert again.created, "an erased ticket's idempotency key no longer matches"


def test_unknown_callers_never_share_a_ticket(service: EscalationService, tenant: str) -> None:
    anonymous = {"tenant_id": tenant, "reason": "human_request", "summary": "Wants a person."}
    first = service.escalate(**anonymous)
    second = service.escalate(**anonymous)
    assert first.created
    assert second.created
    assert first.ticket.id != second.ticket.id
    by_customer = service.escalate(**anonymous, customer_id="noah_brown_6181")
    again = service.escalate(**anonymous, customer_id="noah_brown_6181")
    assert again.ticket.id == by_customer.ticket.id
    assert again.duplicate_of == "active_ticket"


def test_staff_resuming_a_customers_call_find_its_ticket_and_another_customer_does_not(
    escalate_tool: BaseTool, tenant: str
) -> None:
    """The derived key is the session and the model's arguments, not the caller: staff
    answering a hand-off re-run the customer's call and find its ticket; another customer
    replaying the same call in that session is refused it."""
    args = {"reason": "billing", "summary": "Charged twice for one order."}
    first = call(escalate_tool, args, scoped(tenant, thread_id="thread-77"))
    staff = call(
        escalate_tool, args, scoped(tenant, thread_id="thread-77", user_id="s-1", role="agent")
    )
    assert staff.artifact["ticket_id"] == first.artifact["ticket_id"]
    assert staff.artifact["created"] is False
    other = call(escalate_tool, args, scoped(tenant, thread_id="thread-77", user_id="u-2"))
    assert other.status == "error"
    assert json.loads(other.text)["error"]["code"] == "not_authorized"
    assert first.artifact["ticket_id"] not in other.text
