"""A hanging HTTP service: sync and async calls both end at the call's deadline.

The server is a listening socket nobody accepts from: the kernel completes the TCP
handshake, the request is sent, and no byte ever comes back. The clients' own timeouts
are 5 s; the guarded call's deadline is 1 s. Without the deadline becoming the request
timeout, the sync call waited the full 5 s (the async one was cancelled at 1 s).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from storage.tickets import Ticket
from tools.config import CRMConfig, EscalationConfig
from tools.crm import CRMService, HTTPCRMBackend
from tools.errors import DependencyTimeoutError
from tools.escalation import TicketWebhook
from tools.resilience import Resilience, ResilienceConfig, call_scope

DEADLINE_S = 1.0
CLIENT_TIMEOUT_S = 5.0
# Well short of the client's 5 s: a call that ignored the deadline could not pass.
LATEST_END_S = DEADLINE_S + 1.0


@pytest.fixture
def hanging_url() -> Iterator[str]:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        yield f"http://127.0.0.1:{server.getsockname()[1]}"


@pytest.fixture
def resilience() -> Iterator[Resilience]:
    policy = {"timeout_s": DEADLINE_S, "total_timeout_s": DEADLINE_S, "max_attempts": 1}
    config = ResilienceConfig.model_validate(
        {"dependencies": {"crm": policy, "escalation_webhook": policy}}
    )
    with Resilience(config) as built:
        yield built


def _ticket() -> Ticket:
    now = datetime.now(UTC)
    return Ticket(
        id="tkt_1",
        tenant_id="acme",
        customer_ref="u-1",
        reason="anger",
        status="open",
        priority="high",
        summary="Charged twice.",
        handoff={},
        idempotency_key=None,
        conversation_ref=None,
        webhook_status="pending",
        sla_due_at=now,
        created_at=now,
        updated_at=now,
    )


async def test_crm_lookups_end_at_the_deadline_sync_and_async(
    hanging_url: str, resilience: Resilience
) -> None:
    backend = HTTPCRMBackend(
        CRMConfig(backend="http", base_url=hanging_url, timeout_s=CLIENT_TIMEOUT_S)
    )
    service = CRMService(backend, resilience)
    elapsed = []
    with call_scope("acme", "u-1", "s-1"):
        started = time.monotonic()
        with pytest.raises(DependencyTimeoutError):
            service.get_order("acme", "#W1000101")
        elapsed.append(time.monotonic() - started)
        started = time.monotonic()
        with pytest.raises(DependencyTimeoutError):
            await service.aget_order("acme", "#W1000101")
        elapsed.append(time.monotonic() - started)
    await backend.aclose()
    print(
        f"CRM sync/async ended {[round(e - DEADLINE_S, 3) for e in elapsed]} s after the deadline"
    )
    assert all(DEADLINE_S * 0.9 <= e < LATEST_END_S for e in elapsed), elapsed


async def test_webhook_deliveries_end_at_the_deadline_sync_and_async(
    hanging_url: str, resilience: Resilience
) -> None:
    config = EscalationConfig(webhook_url=hanging_url, webhook_timeout_s=CLIENT_TIMEOUT_S)
    webhook = TicketWebhook(config, resilience)
    elapsed = []
    started = time.monotonic()
    with pytest.raises(DependencyTimeoutError):
        webhook.deliver(_ticket())
    elapsed.append(time.monotonic() - started)
    started = time.monotonic()
    with pytest.raises(DependencyTimeoutError):
        await webhook.adeliver(_ticket())
    elapsed.append(time.monotonic() - started)
    await webhook.aclose()
    print(f"webhook sync/async ended {[round(e - DEADLINE_S, 3) for e in elapsed]} s after")
    assert all(DEADLINE_S * 0.9 <= e < LATEST_END_S for e in elapsed), elapsed
