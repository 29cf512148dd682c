"""The CRM operations with resilience and masking applied, shared by the tools and the graph.

``CRMService`` is what code calls (the graph's nodes, a developer's own agent); the
StructuredTools add only argument schemas, the caller's scope from the runtime and
rendering. Results are the masked views as plain dicts; "nothing found" is a
``NotFoundError`` whose message tells the model what to do next.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.crm.backend import CRMBackend, CustomerQuery
from tools.crm.models import Customer, CustomerView, Order, OrderView
from tools.errors import NotFoundError

if TYPE_CHECKING:
    from tools.resilience import Resilience

DEPENDENCY = "crm"


def _customers(customers: list[Customer], query: CustomerQuery) -> list[dict[str, Any]]:
    if not customers:
        how = "email" if query.email else "customer id" if query.customer_id else "name and zip"
        raise NotFoundError(
            f"no customer account matches that {how}; ask the customer to confirm it, "
            "or look them up another way",
            dependency=DEPENDENCY,
        )
    return [CustomerView.of(c).model_dump(mode="json") for c in customers]


def _order(order: Order | None, customer_id: str | None) -> dict[str, Any]:
    if order is None or (customer_id is not None and order.customer_id != customer_id):
        raise NotFoundError(
            "no order with that id for this customer; ask the customer to check the order id "
            "(it looks like #W1234567)",
            dependency=DEPENDENCY,
        )
    return OrderView.of(order).model_dump(mode="json")


class CRMService:
    """Guarded, masked CRM reads for one backend; every call names the tenant."""

    def __init__(
        self, backend: CRMBackend, resilience: Resilience, *, max_results: int = 5
    ) -> None:
        self.backend = backend
        self.max_results = max_results
        self._find = resilience.guard(DEPENDENCY, operation="lookup_customer")(
            backend.find_customers
        )
        self._afind = resilience.guard(DEPENDENCY, operation="lookup_customer")(
            backend.afind_customers
        )
        self._get_order = resilience.guard(DEPENDENCY, operation="get_order")(backend.get_order)
        self._aget_order = resilience.guard(DEPENDENCY, operation="get_order")(backend.aget_order)

    def find_customers(self, tenant_id: str, query: CustomerQuery) -> list[dict[str, Any]]:
        """Masked customer views; ``NotFoundError`` when none match."""
        return _customers(self._find(tenant_id, query, self.max_results), query)

    async def afind_customers(self, tenant_id: str, query: CustomerQuery) -> list[dict[str, Any]]:
        return _customers(await self._afind(tenant_id, query, self.max_results), query)

    def get_order(
        self, tenant_id: str, order_id: str, *, customer_id: str | None = None
    ) -> dict[str, Any]:
        """The masked order view; ``NotFoundError`` if missing or not ``customer_id``'s."""
        return _order(self._get_order(tenant_id, order_id), customer_id)

    async def aget_order(
        self, tenant_id: str, order_id: str, *, customer_id: str | None = None
    ) -> dict[str, Any]:
        return _order(await self._aget_order(tenant_id, order_id), customer_id)

    def close(self) -> None:
        self.backend.close()

    async def aclose(self) -> None:
        await self.backend.aclose()
