"""The CRM backend interface: two reads, paired sync and async, always given the tenant.

Backends return ``None`` / an empty list for "no such record" (a normal answer, which must
not open a circuit breaker) and raise ``tools.errors.ToolError`` subclasses for failures.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass

from tools.crm.models import Customer, Order


@dataclass(frozen=True)
class CustomerQuery:
    """Exactly one way of finding a customer (the tool's schema enforces it)."""

    email: str | None = None
    customer_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    zip: str | None = None


def order_id_candidates(order_id: str) -> list[str]:
    """Models often drop the leading ``#`` of ids like ``#W2611340``; try both spellings."""
    bare = order_id.removeprefix("#")
    return [order_id] if bare == order_id and order_id.startswith("#") else [f"#{bare}", bare]


class CRMBackend(abc.ABC):
    """Where customers and orders come from; ``SQLCRMBackend`` or ``HTTPCRMBackend``."""

    name: str = "crm"

    @abc.abstractmethod
    def find_customers(self, tenant_id: str, query: CustomerQuery, limit: int) -> list[Customer]:
        """Customers of ``tenant_id`` matching ``query``, at most ``limit``."""

    @abc.abstractmethod
    async def afind_customers(
        self, tenant_id: str, query: CustomerQuery, limit: int
    ) -> list[Customer]: ...

    @abc.abstractmethod
    def get_order(self, tenant_id: str, order_id: str) -> Order | None:
        """One order of ``tenant_id``; ``None`` when it does not exist there."""

    @abc.abstractmethod
    async def aget_order(self, tenant_id: str, order_id: str) -> Order | None: ...

    @abc.abstractmethod
    def close(self) -> None:
        """Release what the backend owns (connections, pools)."""

    @abc.abstractmethod
    async def aclose(self) -> None: ...
