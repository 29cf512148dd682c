"""Tickets for human handoff, and their append-only event history.

Two guards live in the database, not in Python, so concurrent workers cannot race past them:
the idempotency key is unique per tenant, and a partial unique index admits at most one
active (open or in-progress) ticket per tenant, customer and reason.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlmodel import Field, SQLModel

from storage.checks import one_of
from storage.crm.tables import JSONValue, utcnow

ACTIVE_STATUSES = ("open", "in_progress")
TICKET_STATUSES = (*ACTIVE_STATUSES, "resolved", "closed")
# "delivering": one caller holds the delivery claim (see TicketStore.claim_delivery).
WEBHOOK_STATUSES = ("disabled", "pending", "delivering", "delivered", "failed")
# The escalation tool's ``Priority`` values (tools/config.py); the schema refuses any other.
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")

_ACTIVE_PREDICATE = text("status IN ('open', 'in_progress')")


class TicketRow(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("uq_tickets_idempotency", "tenant_id", "idempotency_key", unique=True),
        Index(
            "uq_tickets_active_reason",
            "tenant_id",
            "customer_ref",
            "reason",
            unique=True,
            sqlite_where=_ACTIVE_PREDICATE,
            postgresql_where=_ACTIVE_PREDICATE,
        ),
        Index("ix_tickets_queue", "tenant_id", "status", "sla_due_at"),
        CheckConstraint(one_of("status", TICKET_STATUSES), name="ck_tickets_status"),
        CheckConstraint(one_of("priority", TICKET_PRIORITIES), name="ck_tickets_priority"),
        CheckConstraint(
            one_of("webhook_status", WEBHOOK_STATUSES), name="ck_tickets_webhook_status"
        ),
    )

    id: str = Field(primary_key=True, max_length=40)
    tenant_id: str = Field(max_length=64)
    customer_ref: str = Field(max_length=200)
    reason: str = Field(max_length=40)
    status: str = Field(default="open", max_length=20)
    priority: str = Field(max_length=10)
    summary: str = Field(sa_column=Column(Text, nullable=False))
    handoff: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONValue, nullable=False)
    )
    idempotency_key: str | None = Field(default=None, max_length=200)
    conversation_ref: str | None = Field(default=None, max_length=200)
    webhook_status: str = Field(default="disabled", max_length=20)
    sla_due_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class TicketEventRow(SQLModel, table=True):
    __tablename__ = "ticket_events"
    __table_args__ = (Index("ix_ticket_events_ticket", "ticket_id", "id"),)

    id: int | None = Field(
        default=None, sa_column=Column(Integer, primary_key=True, autoincrement=True)
    )
    ticket_id: str = Field(
        sa_column=Column(String(40), ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False)
    )
    tenant_id: str = Field(max_length=64)
    kind: str = Field(max_length=40)
    detail: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONValue, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
