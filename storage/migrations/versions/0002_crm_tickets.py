"""CRM customers and orders, human-handoff tickets and their events.

Revision ID: 0002_crm_tickets
Revises: 0001_memory
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002_crm_tickets"
down_revision: str | None = "0001_memory"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ACTIVE = sa.text("status IN ('open', 'in_progress')")


def _timestamp(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "crm_customers",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(128), primary_key=True),
        sa.Column("first_name", sa.String(200), nullable=False),
        sa.Column("last_name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(401), nullable=False),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("zip", sa.String(20), nullable=True),
        sa.Column("address", _JSON, nullable=False),
        sa.Column("payment_methods", _JSON, nullable=False),
        sa.Column("order_ids", _JSON, nullable=False),
        _timestamp("updated_at"),
    )
    op.create_index("ix_crm_customers_email", "crm_customers", ["tenant_id", "email"])
    op.create_index("ix_crm_customers_name_zip", "crm_customers", ["tenant_id", "zip", "name_key"])
    op.create_table(
        "crm_orders",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("order_id", sa.String(64), primary_key=True),
        sa.Column("customer_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.Column("address", _JSON, nullable=False),
        sa.Column("items", _JSON, nullable=False),
        sa.Column("fulfillments", _JSON, nullable=False),
        sa.Column("payment_history", _JSON, nullable=False),
        _timestamp("updated_at"),
    )
    op.create_index("ix_crm_orders_customer", "crm_orders", ["tenant_id", "customer_id"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("customer_ref", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("handoff", _JSON, nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=True),
        sa.Column("conversation_ref", sa.String(200), nullable=True),
        sa.Column("webhook_status", sa.String(20), nullable=False),
        _timestamp("sla_due_at"),
        _timestamp("created_at"),
        _timestamp("updated_at"),
    )
    op.create_index(
        "uq_tickets_idempotency", "tickets", ["tenant_id", "idempotency_key"], unique=True
    )
    op.create_index(
        "uq_tickets_active_reason",
        "tickets",
        ["tenant_id", "customer_ref", "reason"],
        unique=True,
        sqlite_where=_ACTIVE,
        postgresql_where=_ACTIVE,
    )
    op.create_index("ix_tickets_queue", "tickets", ["tenant_id", "status", "sla_due_at"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "ticket_id",
            sa.String(40),
            sa.ForeignKey("tickets.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("detail", _JSON, nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_ticket_events_ticket", "ticket_events", ["ticket_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_ticket_events_ticket", table_name="ticket_events")
    op.drop_table("ticket_events")
    op.drop_index("ix_tickets_queue", table_name="tickets")
    op.drop_index("uq_tickets_active_reason", table_name="tickets")
    op.drop_index("uq_tickets_idempotency", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index("ix_crm_orders_customer", table_name="crm_orders")
    op.drop_table("crm_orders")
    op.drop_index("ix_crm_customers_name_zip", table_name="crm_customers")
    op.drop_index("ix_crm_customers_email", table_name="crm_customers")
    op.drop_table("crm_customers")
