"""SQLModel tables for the embedded CRM.

Nested parts of a record (address, payment methods, items, fulfillments, payments) are JSON
columns: they are always read with their parent and never queried on their own, so child
tables would only add joins. Every primary key starts with ``tenant_id`` so no lookup can
reach another tenant's rows without naming it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

JSONValue = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def name_key(first_name: str, last_name: str) -> str:
    """The form names are matched in: case- and spacing-insensitive."""
    return " ".join(f"{first_name} {last_name}".casefold().split())


class CustomerRow(SQLModel, table=True):
    __tablename__ = "crm_customers"
    __table_args__ = (
        Index("ix_crm_customers_email", "tenant_id", "email"),
        Index("ix_crm_customers_name_zip", "tenant_id", "zip", "name_key"),
    )

    tenant_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=128)
    first_name: str = Field(max_length=200)
    last_name: str = Field(max_length=200)
    name_key: str = Field(max_length=401)
    email: str | None = Field(default=None, max_length=320)
    zip: str | None = Field(default=None, max_length=20)
    address: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONValue, nullable=False)
    )
    payment_methods: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONValue, nullable=False)
    )
    order_ids: list[str] = Field(default_factory=list, sa_column=Column(JSONValue, nullable=False))
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


class OrderRow(SQLModel, table=True):
    __tablename__ = "crm_orders"
    __table_args__ = (Index("ix_crm_orders_customer", "tenant_id", "customer_id"),)

    tenant_id: str = Field(primary_key=True, max_length=64)
    order_id: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(max_length=128)
    status: str = Field(max_length=64)
    address: dict[str, Any] = Field(
        default_factory=dict, sa_column=Column(JSONValue, nullable=False)
    )
    items: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONValue, nullable=False)
    )
    fulfillments: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONValue, nullable=False)
    )
    payment_history: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONValue, nullable=False)
    )
    updated_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
