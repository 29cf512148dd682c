"""Escalation to a human: a ticket with a handoff packet, deduplicated by the database.

``EscalationService`` is called by the ``escalate_to_human`` tool and by the graph's escalate
node alike. The ticket store resolves duplicates (same idempotency key, or an active ticket
for the same customer and reason); a webhook, when configured, is delivered for a new
ticket and re-attempted when the same idempotency key is replayed after a failed delivery;
a delivery claim in the database makes it one delivery however many callers race.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, NotRequired, TypedDict, Unpack, cast, get_args

from storage.crm.tables import utcnow
from storage.tickets import NewTicket, Ticket, TicketResult, TicketStore
from tools import metrics
from tools.config import EscalationConfig, Priority
from tools.errors import InvalidInputError, NotFoundError, ToolError
from tools.escalation.webhook import TicketWebhook

log = logging.getLogger(__name__)

TicketReason = Literal[
    "customer_request",
    "human_request",
    "anger",
    "abuse",
    "legal",
    "safety",
    "repeated_failure",
    "dependency_unavailable",
    "billing",
    "other",
]
TICKET_REASONS: tuple[str, ...] = get_args(TicketReason)
PRIORITIES: tuple[str, ...] = get_args(Priority)


class EscalationRequest(TypedDict):
    """Arguments of ``escalate`` / ``aescalate``; ``customer_ref`` is the runtime's user id."""

    tenant_id: str
    reason: str
    summary: str
    priority: NotRequired[str]
    customer_ref: NotRequired[str | None]
    customer_id: NotRequired[str | None]
    evidence: NotRequired[Mapping[str, Any] | Sequence[Any] | None]
    conversation_ref: NotRequired[str | None]
    idempotency_key: NotRequired[str | None]


def handoff_packet(
    *,
    summary: str,
    reason: str,
    priority: str,
    customer_ref: str,
    customer_id: str | None,
    conversation_ref: str | None,
    evidence: Mapping[str, Any] | Sequence[Any] | None,
    sla_due_at: datetime,
    requested_at: datetime,
) -> dict[str, Any]:
    """What a human needs to take over without re-asking the customer."""
    return {
        "summary": summary,
        "reason": reason,
        "requested_priority": priority,
        "customer": {"ref": customer_ref, "customer_id": customer_id},
        "conversation": {"ref": conversation_ref},
        "evidence": evidence if evidence is not None else [],
        "sla_due_at": sla_due_at.isoformat(),
        "requested_at": requested_at.isoformat(),
    }


class EscalationService:
    """Creates tickets in ``store``; the caller guards these calls (dependency "tickets")."""

    def __init__(
        self,
        store: TicketStore,
        config: EscalationConfig,
        webhook: TicketWebhook | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.webhook = webhook

    def sla_due(self, priority: Priority, now: datetime) -> datetime:
        return now + timedelta(minutes=self.config.sla_minutes[priority])

    def _new_ticket(
        self,
        *,
        tenant_id: str,
        reason: str,
        summary: str,
        priority: str = "normal",
        customer_ref: str | None = None,
        customer_id: str | None = None,
        evidence: Mapping[str, Any] | Sequence[Any] | None = None,
        conversation_ref: str | None = None,
        idempotency_key: str | None = None,
    ) -> NewTicket:
        if reason not in TICKET_REASONS:
            raise InvalidInputError(f"reason must be one of {', '.join(TICKET_REASONS)}")
        if priority not in PRIORITIES:
            raise InvalidInputError(f"priority must be one of {', '.join(PRIORITIES)}")
        if not summary.strip():
            raise InvalidInputError("summary must say what the customer needs")
        ref = _customer_ref(customer_ref, customer_id, conversation_ref)
        now = utcnow()
        due = self.sla_due(cast(Priority, priority), now)
        packet = handoff_packet(
            summary=summary,
            reason=reason,
            priority=priority,
            customer_ref=ref,
            customer_id=customer_id,
            conversation_ref=conversation_ref,
            evidence=evidence,
            sla_due_at=due,
            requested_at=now,
        )
        return NewTicket(
            tenant_id=tenant_id,
            customer_ref=ref,
            reason=reason,
            priority=priority,
            summary=summary,
            handoff=packet,
            sla_due_at=due,
            idempotency_key=idempotency_key,
            conversation_ref=conversation_ref,
            webhook_status="pending" if self.webhook is not None else "disabled",
        )

    def _owes_delivery(self, result: TicketResult) -> bool:
        """A new ticket, or a replay of the same idempotency key (a retried tool call, a
        resumed run) whose delivery failed, never finished or is still under way: worth
        asking the database for the delivery claim."""
        replay = result.created or result.duplicate_of == "idempotency_key"
        return (
            self.webhook is not None
            and replay
            and result.ticket.webhook_status in ("pending", "failed", "delivering")
        )

    def escalate(self, **request: Unpack[EscalationRequest]) -> TicketResult:
        """Open a ticket, or return the one this request duplicates (``created=False``).

        The webhook is delivered by whichever caller wins the delivery claim in the
        database, so concurrent identical escalations deliver it once.
        """
        result = self.store.create(self._new_ticket(**request))
        _count(result)
        if not self._owes_delivery(result):
            return result
        assert self.webhook is not None
        tenant_id, ticket_id = _ids(result)
        if not self.store.claim_delivery(tenant_id, ticket_id, self.webhook.claim_lease_s):
            return result
        try:
            self.webhook.deliver(result.ticket)
        except ToolError as exc:
            log.warning("ticket webhook delivery failed (%s)", exc.code)
            self.store.update(
                tenant_id, ticket_id, "webhook_failed", {"code": exc.code}, webhook_status="failed"
            )
            return _with_webhook(result, "failed")
        self.store.update(tenant_id, ticket_id, "webhook_delivered", {}, webhook_status="delivered")
        return _with_webhook(result, "delivered")

    async def aescalate(self, **request: Unpack[EscalationRequest]) -> TicketResult:
        result = await self.store.acreate(self._new_ticket(**request))
        _count(result)
        if not self._owes_delivery(result):
            return result
        assert self.webhook is not None
        tenant_id, ticket_id = _ids(result)
        if not await self.store.aclaim_delivery(tenant_id, ticket_id, self.webhook.claim_lease_s):
            return result
        try:
            await self.webhook.adeliver(result.ticket)
        except ToolError as exc:
            log.warning("ticket webhook delivery failed (%s)", exc.code)
            await self.store.aupdate(
                tenant_id, ticket_id, "webhook_failed", {"code": exc.code}, webhook_status="failed"
            )
            return _with_webhook(result, "failed")
        await self.store.aupdate(
            tenant_id, ticket_id, "webhook_delivered", {}, webhook_status="delivered"
        )
        return _with_webhook(result, "delivered")

    def record_reply(
        self,
        tenant_id: str,
        ticket_id: str,
        reply: str,
        *,
        agent: str | None = None,
        reply_key: str | None = None,
    ) -> bool:
        """Keep a human's answer on the ticket; the ticket moves to in_progress.

        ``reply_key`` names the handoff being answered (the graph passes the escalation's
        idempotency key): concurrent or repeated resumes of one handoff record one reply.
        Returns False when this reply was already recorded.
        """
        recorded = self.store.add_reply(tenant_id, ticket_id, _reply(reply, agent, reply_key))
        if recorded is None:
            raise NotFoundError("no such ticket in this tenant")
        return recorded

    async def arecord_reply(
        self,
        tenant_id: str,
        ticket_id: str,
        reply: str,
        *,
        agent: str | None = None,
        reply_key: str | None = None,
    ) -> bool:
        detail = _reply(reply, agent, reply_key)
        recorded = await self.store.aadd_reply(tenant_id, ticket_id, detail)
        if recorded is None:
            raise NotFoundError("no such ticket in this tenant")
        return recorded

    def close(self) -> None:
        if self.webhook is not None:
            self.webhook.close()

    async def aclose(self) -> None:
        if self.webhook is not None:
            await self.webhook.aclose()


def _count(result: TicketResult) -> None:
    """A handoff is counted once per ticket: a duplicate request reuses the open one."""
    if result.created:
        metrics.ESCALATIONS.labels(result.ticket.reason).inc()


def _customer_ref(
    customer_ref: str | None, customer_id: str | None, conversation_ref: str | None
) -> str:
    """Whose ticket this is, for the one-active-ticket guard: the runtime's user, else the
    verified customer, else the conversation; an unknown caller never shares a ticket."""
    if customer_ref:
        return customer_ref
    if customer_id:
        return f"customer:{customer_id}"
    if conversation_ref:
        return f"conversation:{conversation_ref}"
    return f"anonymous:{uuid.uuid4().hex}"


def _reply(reply: str, agent: str | None, reply_key: str | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"reply": reply, "agent": agent}
    if reply_key is not None:
        detail["reply_key"] = reply_key
    return detail


def _ids(result: TicketResult) -> tuple[str, str]:
    return result.ticket.tenant_id, result.ticket.id


def _with_webhook(result: TicketResult, status: str) -> TicketResult:
    ticket: Ticket = dataclasses.replace(result.ticket, webhook_status=status)
    return dataclasses.replace(result, ticket=ticket)
