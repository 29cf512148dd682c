"""escalate: open (or find) the ticket, then hand the conversation to a person.

With ``escalation_policy=handoff`` the run pauses (``interrupt``) with a handoff packet and
resumes with the person's reply, which is recorded on the ticket. The ticket's idempotency
key is the thread and the customer's message id, so the re-run of this node on resume finds
the same ticket, and the reply is recorded once under that key however many resumes race.
A run without a customer gets a ticket of its own thread (the service keys it by
conversation), never one shared with other anonymous visitors.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from graphs.support import prompts
from graphs.support.context import Context, customer, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.state import State
from tools.errors import ToolError
from tools.escalation.service import TICKET_REASONS

logger = logging.getLogger(__name__)

PRIORITIES = ["low", "normal", "high", "urgent"]


async def escalate(
    state: State, runtime: Runtime[Context], *, deps: Dependencies
) -> dict[str, Any]:
    who = customer(state, runtime, deps.services.settings.tenant_id)
    service = deps.services.escalation
    signals = state.get("signals", [])
    kind = signals[0]["kind"] if signals else "customer_request"
    reason = kind if kind in TICKET_REASONS else "other"
    levels = [PRIORITIES.index(s.get("priority", "normal")) for s in signals]
    key = f"turn:{who.session_id}:{state['turn_id']}"
    try:
        result = await deps.call(
            who,
            "tickets",
            service.aescalate,
            tenant_id=who.tenant_id,
            customer_ref=who.user_id,
            conversation_ref=who.session_id,
            idempotency_key=key,
            reason=reason,
            summary=state["query"][:1000],
            priority=PRIORITIES[max(levels, default=1)],
            evidence=[s["reason"][:200] for s in signals][:10],
        )
    except ToolError as exc:
        logger.error("escalation failed (%s)", exc.code)
        return {
            "messages": [AIMessage(prompts.ESCALATION_FAILED, name="escalation")],
            "escalation": {"reason": reason, "signals": signals, "status": "failed"},
            "degraded": [*state.get("degraded", []), "tickets"],
            "unresolved_turns": state.get("unresolved_turns", 0) + 1,
        }
    ticket = result.ticket
    escalation = {
        "ticket_id": ticket.id,
        "created": result.created,
        "reason": reason,
        "priority": ticket.priority,
        "sla_due_at": ticket.sla_due_at.isoformat(timespec="minutes"),
        "signals": signals,
    }
    if settings_of(runtime).escalation_policy == "ticket_only":
        reply = prompts.TICKET_ONLY.format(
            ticket_id=ticket.id, priority=ticket.priority, due=escalation["sla_due_at"]
        )
        return {
            "messages": [AIMessage(reply, name="escalation")],
            "escalation": {**escalation, "status": "ticket_only"},
        }
    human = await_human(handoff_packet(state, who.user_id, escalation))
    try:
        await deps.call(
            who,
            "tickets",
            service.arecord_reply,
            who.tenant_id,
            ticket.id,
            human["reply"],
            agent=human.get("agent"),
            reply_key=key,
        )
    except ToolError as exc:
        logger.error("human reply not recorded on the ticket (%s)", exc.code)
    return {
        "messages": [AIMessage(human["reply"], name="human_agent")],
        "escalation": {**escalation, "status": "answered", "human_reply": human["reply"]},
        "unresolved_turns": 0,
    }


def await_human(packet: dict[str, Any]) -> dict[str, Any]:
    """Pause for the person's reply; anything but a non-empty text asks again."""
    answer: Any = interrupt(packet)
    while True:
        if isinstance(answer, str) and answer.strip():
            return {"reply": answer.strip()}
        if isinstance(answer, Mapping) and str(answer.get("reply", "")).strip():
            return {"reply": str(answer["reply"]).strip(), "agent": answer.get("agent")}
        answer = interrupt({**packet, "error": "resume with a non-empty reply text"})


def handoff_packet(
    state: State, customer: str | None, escalation: dict[str, Any]
) -> dict[str, Any]:
    """What the person sees in Studio (or the chat) when the run pauses."""
    transcript = [
        {"role": message.type, "text": message.text[:1000]} for message in state["messages"][-10:]
    ]
    return {
        "type": "human_handoff",
        **escalation,
        "customer": customer,
        "summary": state["query"][:500],
        "memories": [m["content"] for m in state.get("memories", [])],
        "transcript": transcript,
        "resume_with": {"reply": "text the customer will see", "agent": "optional name"},
    }
