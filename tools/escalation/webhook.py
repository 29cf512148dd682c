"""Deliver new tickets to a help-desk webhook, signed, through the resilience decorator.

The body is signed with HMAC-SHA256 over ``"{timestamp}.{body}"`` (header
``X-Support-Signature: t=<unix>,v1=<hex>``), so a receiver can verify origin and reject
replays; ``Idempotency-Key`` is the ticket id, so a retried or repeated delivery is one ticket
on the receiving side too. Each request's timeout is cut to the delivery's deadline, sync and
async alike. The secret is read only to sign; it is in no message or repr.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import httpx

from storage.tickets import Ticket
from tools.config import EscalationConfig
from tools.errors import DependencyError, DependencyTimeoutError, ToolError
from tools.resilience.http_timeout import request_timeout

if TYPE_CHECKING:
    from tools.resilience import Resilience

log = logging.getLogger(__name__)
DEPENDENCY = "escalation_webhook"
SIGNATURE_HEADER = "X-Support-Signature"


def ticket_payload(ticket: Ticket) -> dict[str, Any]:
    return {
        "event": "ticket.created",
        "ticket": {
            "id": ticket.id,
            "tenant_id": ticket.tenant_id,
            "reason": ticket.reason,
            "priority": ticket.priority,
            "status": ticket.status,
            "summary": ticket.summary,
            "customer_ref": ticket.customer_ref,
            "conversation_ref": ticket.conversation_ref,
            "sla_due_at": ticket.sla_due_at.isoformat(),
            "created_at": ticket.created_at.isoformat(),
            "handoff": ticket.handoff,
        },
    }


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def _failure(exc: httpx.TransportError) -> ToolError:
    if isinstance(exc, httpx.TimeoutException):
        return DependencyTimeoutError(
            "the ticket webhook did not answer in time", dependency=DEPENDENCY
        )
    return DependencyError(
        f"the ticket webhook could not be reached ({type(exc).__name__})",
        retryable=True,
        dependency=DEPENDENCY,
    )


def _check(response: httpx.Response) -> None:
    if response.is_success:
        return
    status = response.status_code
    raise DependencyError(
        f"the ticket webhook answered HTTP {status}",
        retryable=status in (408, 429) or status >= 500,
        dependency=DEPENDENCY,
    )


class TicketWebhook:
    """Sync and async delivery (each attempt re-signed), retried by ``Resilience.guard``."""

    def __init__(self, config: EscalationConfig, resilience: Resilience) -> None:
        if not config.webhook_url:
            raise ValueError("escalation.webhook_url is not set")
        self.url = config.webhook_url
        self._secret = config.webhook_secret
        self._timeout = httpx.Timeout(config.webhook_timeout_s)
        self._client = httpx.Client(timeout=self._timeout, follow_redirects=False)
        self._aclient = httpx.AsyncClient(timeout=self._timeout, follow_redirects=False)
        # A claim older than one whole guarded delivery (every attempt, every backoff) is
        # abandoned: its holder crashed or hung, and the next caller may deliver instead.
        policy = resilience.policy(DEPENDENCY)
        self.claim_lease_s = policy.total_timeout_s + config.webhook_timeout_s
        self.deliver = resilience.guard(DEPENDENCY, operation="deliver")(self._post)
        self.adeliver = resilience.guard(DEPENDENCY, operation="deliver")(self._apost)

    def __repr__(self) -> str:
        return f"TicketWebhook(url={self.url!r}, signed={self._secret is not None})"

    def _request(self, ticket: Ticket) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(ticket_payload(ticket), sort_keys=True, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Idempotency-Key": ticket.id}
        if self._secret is not None:
            secret = self._secret.get_secret_value().encode()
            headers[SIGNATURE_HEADER] = sign(secret, int(time.time()), body)
        return body, headers

    def _post(self, ticket: Ticket) -> None:
        body, headers = self._request(ticket)
        try:
            response = self._client.post(
                self.url, content=body, headers=headers, timeout=request_timeout(self._timeout)
            )
        except httpx.TransportError as exc:
            raise _failure(exc) from None
        _check(response)

    async def _apost(self, ticket: Ticket) -> None:
        body, headers = self._request(ticket)
        try:
            response = await self._aclient.post(
                self.url, content=body, headers=headers, timeout=request_timeout(self._timeout)
            )
        except httpx.TransportError as exc:
            raise _failure(exc) from None
        _check(response)

    def close(self) -> None:
        self._client.close()

    async def aclose(self) -> None:
        await self._aclient.aclose()
        self._client.close()
