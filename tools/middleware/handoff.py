"""The hand-off interrupt in LangChain's human-in-the-loop schema, and Agent Inbox's.

Two payload schemas are in use for pausing an agent for a person: LangChain v1's
``HITLRequest`` (``action_requests`` + ``review_configs``, answered with ``{"decisions":
[...]}``), which ``HumanInTheLoopMiddleware`` and LangChain's UIs speak, and Agent Inbox's
``HumanInterrupt`` list (answered with a list of ``HumanResponse``). The hand-off is built
in the first and converted to the second by ``to_agent_inbox``; ``read_decision`` accepts an
answer in either shape, so one resume path serves both inboxes.

A hand-off offers three decisions: ``respond`` (the person's reply, relayed to the customer),
``approve`` (the ticket stands; a person follows up later) and ``reject`` (no hand-off is
needed; the agent carries on). An edit is not offered: the ticket already exists.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from langchain.agents.middleware.human_in_the_loop import (
    ActionRequest,
    DecisionType,
    HITLRequest,
    ReviewConfig,
)

from storage.text import clean_text
from tools.errors import InvalidInputError

ALLOWED: list[DecisionType] = ["respond", "approve", "reject"]
_MAX_REPLY_CHARS = 4000


class InboxAction(TypedDict):
    """Agent Inbox's ``ActionRequest``: what the person is asked about."""

    action: str
    args: dict[str, Any]


class InboxConfig(TypedDict):
    """Agent Inbox's ``HumanInterruptConfig``: the buttons it renders."""

    allow_ignore: bool
    allow_respond: bool
    allow_edit: bool
    allow_accept: bool


class InboxInterrupt(TypedDict):
    """Agent Inbox's ``HumanInterrupt`` (the inbox renders a list of these)."""

    action_request: InboxAction
    config: InboxConfig
    description: str | None


@dataclass(frozen=True)
class HandoffDecision:
    """What the person decided: ``reply`` is set for ``respond`` (and may be for ``reject``)."""

    type: Literal["respond", "approve", "reject"]
    reply: str | None = None
    agent: str | None = None


def handoff_request(
    tool_name: str, args: Mapping[str, Any], ticket: Mapping[str, Any]
) -> HITLRequest:
    """The interrupt value for a hand-off: the model's call, the ticket and its handoff
    packet (``ticket["handoff"]``: what the person needs to take over)."""
    details = {key: value for key, value in ticket.items() if key not in ("handoff", "next_step")}
    description = (
        f"Ticket {ticket.get('ticket_id')} ({ticket.get('priority')} priority, due "
        f"{ticket.get('sla_due_at')}). Reply to the customer (respond), keep the ticket for "
        "later follow-up (approve), or hand the conversation back to the assistant (reject)."
    )
    action: ActionRequest = {
        "name": tool_name,
        "args": {**args, "ticket": details, "handoff": ticket.get("handoff") or {}},
        "description": description,
    }
    review: ReviewConfig = {"action_name": tool_name, "allowed_decisions": list(ALLOWED)}
    return {"action_requests": [action], "review_configs": [review]}


def to_agent_inbox(request: HITLRequest) -> list[InboxInterrupt]:
    """The same request as Agent Inbox's ``HumanInterrupt`` list."""
    allowed = {
        config["action_name"]: set(config["allowed_decisions"])
        for config in request["review_configs"]
    }
    interrupts: list[InboxInterrupt] = []
    for action in request["action_requests"]:
        decisions = allowed.get(action["name"], set())
        interrupts.append(
            {
                "action_request": {"action": action["name"], "args": dict(action["args"])},
                "config": {
                    "allow_ignore": "reject" in decisions,
                    "allow_respond": "respond" in decisions,
                    "allow_edit": "edit" in decisions,
                    "allow_accept": "approve" in decisions,
                },
                "description": action.get("description"),
            }
        )
    return interrupts


def _reply(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError("a hand-off reply must be text")
    text = clean_text(value)
    if len(text) > _MAX_REPLY_CHARS:
        raise InvalidInputError(f"a hand-off reply is at most {_MAX_REPLY_CHARS} characters")
    return text or None


def _agent(value: Any) -> str | None:
    """The replying person's name, if given as text; it is optional, so nothing else fails."""
    text = _reply(value) if isinstance(value, str) else None
    return text[:200] if text else None


def _from_langchain(decision: Mapping[str, Any]) -> HandoffDecision:
    kind = decision.get("type")
    if kind == "respond":
        reply = _reply(decision.get("message"))
        if reply is None:
            raise InvalidInputError("a respond decision needs a non-empty message")
        return HandoffDecision("respond", reply, _agent(decision.get("agent")))
    if kind == "approve":
        return HandoffDecision("approve", agent=_agent(decision.get("agent")))
    if kind == "reject":
        return HandoffDecision("reject", _reply(decision.get("message")))
    raise InvalidInputError(f"a hand-off decision is one of {', '.join(ALLOWED)}")


def _from_inbox(response: Mapping[str, Any]) -> HandoffDecision:
    kind, args = response.get("type"), response.get("args")
    if kind == "response":
        return _from_langchain({"type": "respond", "message": args})
    if kind == "accept":
        return HandoffDecision("approve")
    if kind == "ignore":
        return HandoffDecision("reject")
    raise InvalidInputError("an Agent Inbox answer to a hand-off is accept, ignore or response")


def read_decision(answer: Any) -> HandoffDecision:
    """The person's decision from any resume value a client may send.

    Accepted: LangChain's ``{"decisions": [decision]}`` or a bare decision, Agent Inbox's
    ``[HumanResponse]`` or a bare response, and plain reply text. Anything else raises
    ``InvalidInputError`` (the caller asks again).
    """
    if isinstance(answer, str):
        return _from_langchain({"type": "respond", "message": answer})
    if isinstance(answer, Sequence) and len(answer) == 1:
        answer = answer[0]
    if isinstance(answer, Mapping):
        decisions = answer.get("decisions")
        if isinstance(decisions, Sequence) and len(decisions) == 1:
            answer = decisions[0]
        if isinstance(answer, Mapping) and answer.get("type") in ALLOWED:
            return _from_langchain(answer)
        if isinstance(answer, Mapping) and answer.get("type") in ("accept", "ignore", "response"):
            return _from_inbox(answer)
    raise InvalidInputError(
        'resume a hand-off with {"decisions": [{"type": "respond", "message": "..."}]} '
        "(or approve / reject), or with Agent Inbox's [HumanResponse]"
    )


def outcome(ticket: Mapping[str, Any], decision: HandoffDecision) -> str:
    """The tool result the model sees after the person decided (JSON, as our tools return)."""
    base = {"ticket_id": ticket.get("ticket_id"), "sla_due_at": ticket.get("sla_due_at")}
    if decision.type == "respond":
        payload = {
            **base,
            "status": "answered",
            "human_reply": decision.reply,
            "next_step": "Relay the human agent's reply to the customer, word for word.",
        }
    elif decision.type == "approve":
        payload = {
            **base,
            "status": "queued",
            "next_step": "Tell the customer a human agent has the ticket and will respond "
            "by the SLA time.",
        }
    else:
        payload = {
            **base,
            "status": "declined",
            "note": decision.reply,
            "next_step": "A human reviewed the hand-off and handed the conversation back: "
            "keep helping the customer yourself.",
        }
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
