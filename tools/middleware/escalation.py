"""``EscalationMiddleware``: ``escalate_to_human`` opens the ticket, then pauses for a person.

The tool runs first (through the rest of the middleware chain), so the ticket exists before
anyone is asked; then the run pauses with ``interrupt()`` carrying LangChain's HITL request
(or Agent Inbox's, ``schema="agent_inbox"``) with the ticket attached. LangGraph re-runs an
interrupted tool call from its start on resume, and Studio's time travel replays it: the
tool's idempotency key (the session and the call's arguments) makes every re-run find the
same ticket, so a hand-off opens one ticket however often it is resumed or replayed. The
person's reply is recorded on the ticket once per tool call and returned to the model as the
tool's result.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from langchain.agents.middleware import AgentMiddleware, ToolCallRequest
from langchain_core.messages import ToolMessage
from langgraph.types import Command, interrupt

from tools.errors import InvalidInputError, ToolError
from tools.escalation.service import EscalationService
from tools.middleware.handoff import (
    HandoffDecision,
    handoff_request,
    outcome,
    read_decision,
    to_agent_inbox,
)
from tools.resilience import Resilience
from tools.runtime import acting_as

logger = logging.getLogger(__name__)

Schema = Literal["langchain", "agent_inbox"]


class EscalationMiddleware(AgentMiddleware):
    """Turns a successful ``escalate_to_human`` call into a human hand-off."""

    def __init__(
        self,
        tickets: EscalationService,
        resilience: Resilience,
        *,
        schema: Schema = "langchain",
        tool_name: str = "escalate_to_human",
        default_tenant: str | None = None,
    ) -> None:
        super().__init__()
        self.schema = schema
        self.tool_name = tool_name
        self.default_tenant = default_tenant
        self._arecord = resilience.guard("tickets", operation="record_reply")(tickets.arecord_reply)
        self._record = resilience.guard("tickets", operation="record_reply")(tickets.record_reply)

    def _ticket(self, result: ToolMessage | Command) -> dict[str, Any] | None:
        """The ticket of a successful call (the tool's artifact), else None."""
        if not isinstance(result, ToolMessage) or result.status == "error":
            return None
        artifact = result.artifact
        return artifact if isinstance(artifact, dict) and "ticket_id" in artifact else None

    def _ask(self, request: ToolCallRequest, ticket: dict[str, Any]) -> HandoffDecision:
        """Pause until the person decides; an answer we cannot read asks again."""
        payload = handoff_request(self.tool_name, request.tool_call["args"], ticket)
        value: Any = payload if self.schema == "langchain" else to_agent_inbox(payload)
        while True:
            try:
                return read_decision(interrupt(value))
            except InvalidInputError as exc:
                # Ask again, saying what was wrong with the answer.
                if self.schema == "langchain":
                    value = {**payload, "error": exc.to_dict()}
                else:
                    value = [
                        {**item, "description": f"{item['description']} ({exc.message})"}
                        for item in to_agent_inbox(payload)
                    ]

    def _message(
        self, request: ToolCallRequest, ticket: dict[str, Any], decision: HandoffDecision
    ) -> ToolMessage:
        return ToolMessage(
            outcome(ticket, decision),
            tool_call_id=request.tool_call["id"],
            name=self.tool_name,
            artifact={**ticket, "decision": decision.type},
        )

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command],
    ) -> ToolMessage | Command:
        if request.tool_call["name"] != self.tool_name:
            return handler(request)
        result = handler(request)
        ticket = self._ticket(result)
        if ticket is None:
            return result
        decision = self._ask(request, ticket)
        if decision.reply is not None and decision.type == "respond":
            try:
                with acting_as(request.runtime.config, default_tenant=self.default_tenant) as scope:
                    self._record(
                        scope.tenant_id,
                        ticket["ticket_id"],
                        decision.reply,
                        agent=decision.agent,
                        reply_key=_reply_key(request),
                    )
            except ToolError as exc:
                logger.error("human reply not recorded on the ticket (%s)", exc.code)
        return self._message(request, ticket, decision)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command]],
    ) -> ToolMessage | Command:
        if request.tool_call["name"] != self.tool_name:
            return await handler(request)
        result = await handler(request)
        ticket = self._ticket(result)
        if ticket is None:
            return result
        decision = self._ask(request, ticket)
        if decision.reply is not None and decision.type == "respond":
            try:
                with acting_as(request.runtime.config, default_tenant=self.default_tenant) as scope:
                    await self._arecord(
                        scope.tenant_id,
                        ticket["ticket_id"],
                        decision.reply,
                        agent=decision.agent,
                        reply_key=_reply_key(request),
                    )
            except ToolError as exc:
                logger.error("human reply not recorded on the ticket (%s)", exc.code)
        return self._message(request, ticket, decision)


def _reply_key(request: ToolCallRequest) -> str:
    """One reply per hand-off: a resume, a concurrent resume or a replay of the same tool
    call records the person's reply once (``EscalationService.record_reply``)."""
    return f"handoff:{request.tool_call['id']}"
