"""CRM backend on our own database (the embedded default), loaded with ``support-agent crm-load``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, Select, select

from storage.crm.tables import CustomerRow, OrderRow, name_key
from storage.engine import Database
from tools.crm.backend import CRMBackend, CustomerQuery, order_id_candidates
from tools.crm.models import Customer, Order

_CUSTOMERS = CustomerRow.__table__
_ORDERS = OrderRow.__table__


def _customer_statement(tenant_id: str, query: CustomerQuery, limit: int) -> Select:
    statement = select(_CUSTOMERS).where(_CUSTOMERS.c.tenant_id == tenant_id)
    if query.customer_id is not None:
        statement = statement.where(_CUSTOMERS.c.customer_id == query.customer_id)
    elif query.email is not None:
        statement = statement.where(_CUSTOMERS.c.email == query.email.casefold())
    elif query.first_name and query.last_name and query.zip:
        statement = statement.where(
            _CUSTOMERS.c.zip == query.zip,
            _CUSTOMERS.c.name_key == name_key(query.first_name, query.last_name),
        )
    else:
        raise ValueError("CustomerQuery needs customer_id, email, or first name + last name + zip")
    # No ORDER BY: SQLite would then walk the primary key over the whole tenant instead of
    # using the e-mail / name index; callers sort the few matches themselves.
    return statement.limit(limit)


def _order_statement(tenant_id: str, order_id: str) -> Select:
    return (
        select(_ORDERS)
        .where(
            _ORDERS.c.tenant_id == tenant_id, _ORDERS.c.order_id.in_(order_id_candidates(order_id))
        )
        .order_by(_ORDERS.c.order_id)
        .limit(1)
    )


def _customers(rows: Sequence[Row[Any]]) -> list[Customer]:
    return sorted((Customer.from_row(row._mapping) for row in rows), key=lambda c: c.customer_id)


class SQLCRMBackend(CRMBackend):
    """Reads the ``crm_customers`` / ``crm_orders`` tables; the ``Database`` is owned by the caller."""

    name = "sql"

    def __init__(self, database: Database) -> None:
        self.database = database

    def find_customers(self, tenant_id: str, query: CustomerQuery, limit: int) -> list[Customer]:
        with self.database.engine.connect() as connection:
            rows = connection.execute(_customer_statement(tenant_id, query, limit)).all()
        return _customers(rows)

    async def afind_customers(
        self, tenant_id: str, query: CustomerQuery, limit: int
    ) -> list[Customer]:
        async with self.database.async_engine.connect() as connection:
            rows = (await connection.execute(_customer_statement(tenant_id, query, limit))).all()
        return _customers(rows)

    def get_order(self, tenant_id: str, order_id: str) -> Order | None:
        with self.database.engine.connect() as connection:
            row = connection.execute(_order_statement(tenant_id, order_id)).first()
        return Order.from_row(row._mapping) if row is not None else None

    async def aget_order(self, tenant_id: str, order_id: str) -> Order | None:
        async with self.database.async_engine.connect() as connection:
            row = (await connection.execute(_order_statement(tenant_id, order_id))).first()
        return Order.from_row(row._mapping) if row is not None else None

    def close(self) -> None:
        """The database belongs to whoever built it; nothing of ours to release."""

    async def aclose(self) -> None:
        """See ``close``."""
