"""``escalate_to_human`` as a StructuredTool over ``EscalationService``.

Identity (tenant, user, session) and the idempotency key come from the runtime. The key is,
in order: ``idempotency_key`` in the LangGraph context or ``config["configurable"]`` (the
graph sets it per turn), else one derived from the tenant, the session and the arguments the
model wrote: a resumed run re-executes the same tool call with the same arguments, so it
finds the ticket the first run created instead of opening a second one, even when the run is
resumed by someone else (support staff answering a hand-off from their inbox). The caller's
user is left out of that key on purpose; instead a customer is refused a ticket the key finds
that is not theirs.
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Annotated, Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from tools.config import Priority
from tools.crm.schemas import CustomerId
from tools.errors import NotAuthorizedError, tool_error_handler, validation_error_handler
from tools.escalation.service import EscalationService, TicketReason
from tools.inputs import ContentText, clean_text
from tools.resilience import call_scope
from tools.runtime import CallerScope, caller_scope, runtime_value

if TYPE_CHECKING:
    from storage.tickets import TicketResult
    from tools.resilience import Resilience

DEPENDENCY = "tickets"
_KEY_MAX = 200

EvidenceItem = Annotated[str, StringConstraints(min_length=1, max_length=500)]

ESCALATE_DESCRIPTION = (
    "Hand the conversation to a human support agent by opening a ticket. Use it when the "
    "customer asks for a human, is angry or abusive, mentions legal action or a safety risk, "
    "when you have failed to solve the problem twice, or when a system you need is down. "
    "Returns the ticket id and when a human will respond (SLA); tell the customer both. "
    "Calling it again for the same customer and reason returns the existing open ticket."
)


class EscalateInput(BaseModel):
    """Open a ticket for a human agent."""

    model_config = ConfigDict(extra="forbid")

    reason: TicketReason = Field(
        description=(
            "Why a human is needed: human_request (the customer asked for a person), anger, "
            "abuse, legal, safety (injury, fire, self-harm), repeated_failure (you could not "
            "solve it), dependency_unavailable (a system is down), billing, customer_request "
            "(another need only staff can meet) or other."
        )
    )
    summary: ContentText = Field(
        description=(
            "For the human agent: what the customer needs, what you already tried and what "
            "is still open, in 1-5 plain sentences. Do not include card numbers or passwords."
        )
    )
    priority: Priority = Field(
        default="normal",
        description="urgent only for safety or legal threats; high for angry customers or outages.",
    )
    customer_id: CustomerId | None = Field(
        default=None,
        description="The customer id from lookup_customer, if the customer was verified.",
    )
    evidence: list[EvidenceItem] = Field(
        default_factory=list,
        max_length=10,
        description="Up to 10 short facts supporting the summary: order ids, error codes, quotes.",
    )


def idempotency_key(
    config: RunnableConfig | None, scope: CallerScope, arguments: dict[str, Any]
) -> str | None:
    """The runtime's key, else one derived from the session and the model's arguments, else
    None."""
    explicit = runtime_value(config, "idempotency_key")
    if explicit:
        return str(clean_text(str(explicit)))[:_KEY_MAX]
    if scope.session_id is None:
        return None
    material = json.dumps([scope.tenant_id, scope.session_id, arguments], sort_keys=True)
    return "derived:" + hashlib.sha256(material.encode()).hexdigest()[:40]


def _result(result: TicketResult) -> tuple[str, dict[str, Any]]:
    ticket = result.ticket
    due = ticket.sla_due_at.strftime("%Y-%m-%d %H:%M UTC")
    payload = {
        "ticket_id": ticket.id,
        "status": ticket.status,
        "priority": ticket.priority,
        "sla_due_at": ticket.sla_due_at.isoformat(timespec="seconds"),
        "created": result.created,
        "duplicate_of": result.duplicate_of,
        "webhook": ticket.webhook_status,
        "next_step": (
            f"Tell the customer a human agent has ticket {ticket.id} and will respond by {due}."
            if result.created
            else f"A ticket ({ticket.id}) is already open for this; a human will respond by {due}."
        ),
    }
    content = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    # The handoff packet is for the person taking over (a hand-off interrupt shows it), not
    # for the model: it rides in the artifact only.
    return content, {**payload, "handoff": ticket.handoff}


class EscalationTool:
    """The tool functions; ticket writes are guarded as dependency "tickets"."""

    def __init__(
        self,
        service: EscalationService,
        resilience: Resilience,
        *,
        default_tenant: str | None = None,
    ) -> None:
        self.service = service
        self.default_tenant = default_tenant
        self._escalate = resilience.guard(DEPENDENCY, operation="escalate_to_human")(
            service.escalate
        )
        self._aescalate = resilience.guard(DEPENDENCY, operation="escalate_to_human")(
            service.aescalate
        )

    def _request(
        self, config: RunnableConfig, arguments: dict[str, Any]
    ) -> tuple[CallerScope, dict[str, Any]]:
        scope = caller_scope(config, default_tenant=self.default_tenant)
        key = idempotency_key(config, scope, arguments)
        if not scope.is_staff:
            # A customer's ticket is about themselves, whatever id the model passes.
            arguments = {**arguments, "customer_id": scope.user_id}
        request = {
            "tenant_id": scope.tenant_id,
            "customer_ref": scope.user_id,
            "conversation_ref": scope.session_id,
            "idempotency_key": key,
            **arguments,
        }
        return scope, request

    def escalate_to_human(
        self,
        reason: str,
        summary: str,
        priority: str = "normal",
        customer_id: str | None = None,
        evidence: list[str] | None = None,
        *,
        config: RunnableConfig,
    ) -> tuple[str, dict[str, Any]]:
        arguments = _arguments(reason, summary, priority, customer_id, evidence)
        scope, request = self._request(config, arguments)
        with call_scope(scope.tenant_id, scope.user_id, scope.session_id):
            return _result(_owned(scope, self._escalate(**request)))

    async def aescalate_to_human(
        self,
        reason: str,
        summary: str,
        priority: str = "normal",
        customer_id: str | None = None,
        evidence: list[str] | None = None,
        *,
        config: RunnableConfig,
    ) -> tuple[str, dict[str, Any]]:
        arguments = _arguments(reason, summary, priority, customer_id, evidence)
        scope, request = self._request(config, arguments)
        with call_scope(scope.tenant_id, scope.user_id, scope.session_id):
            return _result(_owned(scope, await self._aescalate(**request)))

    def tool(self) -> BaseTool:
        return StructuredTool.from_function(
            func=self.escalate_to_human,
            coroutine=self.aescalate_to_human,
            name="escalate_to_human",
            description=ESCALATE_DESCRIPTION,
            args_schema=EscalateInput,
            response_format="content_and_artifact",
            handle_tool_error=tool_error_handler,
            handle_validation_error=validation_error_handler,
        )


def _owned(scope: CallerScope, result: TicketResult) -> TicketResult:
    """``result`` if the caller may see its ticket: staff see their tenant's, a customer
    their own (an idempotency key replayed in another customer's session finds nothing)."""
    if scope.is_staff or scope.user_id is None or result.ticket.customer_ref == scope.user_id:
        return result
    raise NotAuthorizedError("this conversation's ticket belongs to another customer")


def _arguments(
    reason: str, summary: str, priority: str, customer_id: str | None, evidence: list[str] | None
) -> dict[str, Any]:
    return {
        "reason": reason,
        "summary": summary,
        "priority": priority,
        "customer_id": customer_id,
        "evidence": list(evidence or []),
    }


def build_escalation_tool(
    service: EscalationService, resilience: Resilience, *, default_tenant: str | None = None
) -> BaseTool:
    return EscalationTool(service, resilience, default_tenant=default_tenant).tool()
