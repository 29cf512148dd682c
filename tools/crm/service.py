"""The CRM operations with resilience, authorization and masking applied, shared by the tools
and the graph.

``CRMService`` is what code calls (the graph's nodes, a developer's own agent); the
StructuredTools add only argument schemas, the caller's scope from the runtime and
rendering. Results are the masked views as plain dicts; "nothing found" is a
``NotFoundError`` whose message tells the model what to do next.

Authorization (``customer_lookup`` / ``order_for``, what tools and nodes call): a customer sees
only their own record and orders, whatever ids the model passes; a lookup by e-mail or
name + zip is a verification step that answers only when it finds the caller. Staff
(``agent``, ``admin``) see every customer of their own tenant. Someone else's record reads
exactly like a missing one, so a lookup cannot confirm that an account exists. The
``find_customers`` / ``get_order`` methods below them are the tenant-wide reads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tools.audit import read_entries
from tools.crm.backend import CRMBackend, CustomerQuery
from tools.crm.models import Customer, CustomerView, Order, OrderView
from tools.errors import NotFoundError

if TYPE_CHECKING:
    from storage.access_log import AccessLog
    from tools.resilience import Resilience
    from tools.runtime import CallerScope

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


def _visible(caller: CallerScope, customers: list[Customer]) -> list[Customer]:
    if caller.is_staff:
        return customers
    return [c for c in customers if caller.user_id is not None and c.customer_id == caller.user_id]


def _readable(caller: CallerScope, order: Order | None, customer_id: str | None) -> Order | None:
    """``order`` if ``caller`` may read it, else None (so it reads as missing).

    Staff may narrow to one customer with ``customer_id``; a customer's own id always applies
    to them, whatever ``customer_id`` says, and a caller with no user owns no order.
    """
    if order is None:
        return None
    if caller.is_staff:
        return order if customer_id is None or order.customer_id == customer_id else None
    return order if caller.user_id is not None and order.customer_id == caller.user_id else None


class CRMService:
    """Guarded, masked CRM reads for one backend; every call names the tenant."""

    def __init__(
        self,
        backend: CRMBackend,
        resilience: Resilience,
        *,
        max_results: int = 5,
        access_log: AccessLog | None = None,
    ) -> None:
        self.backend = backend
        self.max_results = max_results
        self.access_log = access_log
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

    async def acustomer_lookup(
        self, caller: CallerScope, query: CustomerQuery
    ) -> list[dict[str, Any]]:
        """The customers ``caller`` may see among those matching ``query``; each read is
        written to the access log."""
        found = _visible(caller, await self._afind(caller.tenant_id, query, self.max_results))
        await self._alog(read_entries(caller, "lookup_customer", [c.customer_id for c in found]))
        return _customers(found, query)

    def customer_lookup(self, caller: CallerScope, query: CustomerQuery) -> list[dict[str, Any]]:
        found = _visible(caller, self._find(caller.tenant_id, query, self.max_results))
        self._log(read_entries(caller, "lookup_customer", [c.customer_id for c in found]))
        return _customers(found, query)

    async def aorder_for(
        self, caller: CallerScope, order_id: str, *, customer_id: str | None = None
    ) -> dict[str, Any]:
        """The order if ``caller`` may see it (a customer: only their own)."""
        order = _readable(caller, await self._aget_order(caller.tenant_id, order_id), customer_id)
        await self._alog(read_entries(caller, "get_order", [order.customer_id] if order else []))
        return _order(order, None)

    def order_for(
        self, caller: CallerScope, order_id: str, *, customer_id: str | None = None
    ) -> dict[str, Any]:
        order = _readable(caller, self._get_order(caller.tenant_id, order_id), customer_id)
        self._log(read_entries(caller, "get_order", [order.customer_id] if order else []))
        return _order(order, None)

    def _log(self, entries: list[dict[str, Any]]) -> None:
        if self.access_log is not None:
            for entry in entries:
                self.access_log.record(**entry)

    async def _alog(self, entries: list[dict[str, Any]]) -> None:
        if self.access_log is not None:
            for entry in entries:
                await self.access_log.arecord(**entry)

    def close(self) -> None:
        self.backend.close()

    async def aclose(self) -> None:
        await self.backend.aclose()
