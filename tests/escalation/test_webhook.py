"""Webhook delivery to a real local receiver: signed, retried, failure kept, replay redelivers."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from pydantic import SecretStr

from storage.engine import Database
from storage.tickets import TicketStore
from tools.config import EscalationConfig
from tools.escalation import (
    SIGNATURE_HEADER,
    EscalationService,
    TicketWebhook,
    build_escalation_tool,
)
from tools.resilience import Resilience, ResilienceConfig

SECRET = "whsec-" + secrets.token_hex(16)


@dataclass
class Receiver:
    """Answers ``failures`` 500s, then 200s; records every request."""

    failures: int = 0
    delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append({"headers": headers, "body": body})
            if self.failures > 0:
                self.failures -= 1
                return 500
            return 200


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = state.answer(dict(self.headers.items()), body)
            time.sleep(state.delay_s)  # a slow help desk widens any race between callers
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/hooks/tickets"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def webhook_service(
    tickets_db: Database, receiver: tuple[Receiver, str]
) -> Iterator[EscalationService]:
    config = EscalationConfig(webhook_url=receiver[1], webhook_secret=SecretStr(SECRET))
    resilience = Resilience(
        ResilienceConfig.model_validate(
            {"default": {"backoff_initial_s": 0.001, "max_attempts": 3, "fail_max": 100}}
        )
    )
    service = EscalationService(TicketStore(tickets_db), config, TicketWebhook(config, resilience))
    yield service
    service.close()
    resilience.close()


def _request(tenant: str, key: str = "k-1") -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "reason": "anger",
        "summary": "Customer is furious about a double charge.",
        "priority": "high",
        "customer_ref": "u-1",
        "idempotency_key": key,
    }


def _verify(request: dict[str, Any]) -> dict[str, Any]:
    signature = request["headers"][SIGNATURE_HEADER]
    parts = dict(part.split("=", 1) for part in signature.split(","))
    expected = hmac.new(
        SECRET.encode(), f"{parts['t']}.".encode() + request["body"], hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return json.loads(request["body"])


def test_new_ticket_is_delivered_signed(
    webhook_service: EscalationService, receiver: tuple[Receiver, str], tenant: str
) -> None:
    state, _ = receiver
    result = webhook_service.escalate(**_request(tenant))
    assert result.ticket.webhook_status == "delivered"
    [delivery] = state.requests
    body = _verify(delivery)
    assert body["event"] == "ticket.created"
    assert body["ticket"]["id"] == result.ticket.id
    assert body["ticket"]["handoff"]["summary"] == "Customer is furious about a double charge."
    assert delivery["headers"]["Idempotency-Key"] == result.ticket.id
    stored = webhook_service.store.get(tenant, result.ticket.id)
    assert stored is not None
    assert stored.webhook_status == "delivered"
    duplicate = webhook_service.escalate(**_request(tenant))
    assert not duplicate.created
    assert len(state.requests) == 1, "a delivered ticket is not sent again"


async def test_transient_failures_are_retried(
    webhook_service: EscalationService, receiver: tuple[Receiver, str], tenant: str
) -> None:
    state, _ = receiver
    state.failures = 2
    result = await webhook_service.aescalate(**_request(tenant))
    assert result.ticket.webhook_status == "delivered"
    assert len(state.requests) == 3
    assert {_verify(r)["ticket"]["id"] for r in state.requests} == {result.ticket.id}


def test_a_failed_delivery_keeps_the_ticket_and_a_replay_redelivers(
    webhook_service: EscalationService,
    receiver: tuple[Receiver, str],
    tenant: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    state, _ = receiver
    state.failures = 3
    first = webhook_service.escalate(**_request(tenant))
    assert first.created
    assert first.ticket.webhook_status == "failed"
    kinds = [e["kind"] for e in webhook_service.store.events(tenant, first.ticket.id)]
    assert kinds == ["created", "webhook_failed"]
    replay = webhook_service.escalate(**_request(tenant))
    assert replay.ticket.id == first.ticket.id
    assert replay.ticket.webhook_status == "delivered"
    assert len(state.requests) == 4
    assert SECRET not in caplog.text
    assert SECRET not in repr(webhook_service.webhook)


async def test_concurrent_identical_escalations_deliver_the_webhook_once(
    webhook_service: EscalationService,
    receiver: tuple[Receiver, str],
    resilience: Resilience,
    tenant: str,
) -> None:
    """Five copies of one escalate_to_human call at once (a model repeating itself, a client
    retrying): one ticket, one delivery, and every caller sees that one ticket."""
    state, _ = receiver
    state.delay_s = 0.2
    tool = build_escalation_tool(webhook_service, resilience)
    call = {
        "type": "tool_call",
        "id": "call-1",
        "name": "escalate_to_human",
        "args": {"reason": "anger", "summary": "Charged twice, furious.", "priority": "high"},
    }
    config = {"configurable": {"tenant_id": tenant, "user_id": "u-1", "thread_id": "t-1"}}
    messages = await asyncio.gather(*(tool.ainvoke(call, config=config) for _ in range(5)))
    tickets = {json.loads(m.content)["ticket_id"] for m in messages}
    assert len(tickets) == 1
    assert len(state.requests) == 1
    [ticket_id] = tickets
    stored = webhook_service.store.get(tenant, ticket_id)
    assert stored is not None
    assert stored.webhook_status == "delivered"


def test_concurrent_threads_deliver_once_too(
    webhook_service: EscalationService, receiver: tuple[Receiver, str], tenant: str
) -> None:
    state, _ = receiver
    state.delay_s = 0.2
    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: webhook_service.escalate(**_request(tenant)), range(5)))
    assert len({r.ticket.id for r in results}) == 1
    assert len(state.requests) == 1
    assert [r.created for r in results].count(True) == 1


def test_an_abandoned_delivery_claim_is_taken_over_after_its_lease(
    webhook_service: EscalationService, tenant: str
) -> None:
    """A caller that crashed mid-delivery leaves the ticket "delivering"; once its lease is
    over the next caller may deliver, and not before."""
    store = webhook_service.store
    ticket = webhook_service.escalate(**_request(tenant)).ticket
    store.update(tenant, ticket.id, "reset", {}, webhook_status="pending")
    assert store.claim_delivery(tenant, ticket.id, lease_s=60)
    assert not store.claim_delivery(tenant, ticket.id, lease_s=60)
    time.sleep(0.01)
    assert store.claim_delivery(tenant, ticket.id, lease_s=0.001)
    assert not store.claim_delivery(f"{tenant}-other", ticket.id, lease_s=0.001)
