"""``lookup_customer`` and ``get_order`` as StructuredTools over a ``CRMService``.

The caller (tenant, user, role) comes from the runtime (``tools.runtime``), never from the
model's arguments, and ``CRMService`` decides what that caller may see: a customer only their
own record and orders. Results are ``content_and_artifact``: compact JSON for the model, the
same data as a dict for code.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool

from tools.crm.backend import CustomerQuery
from tools.crm.schemas import GetOrderInput, LookupCustomerInput
from tools.crm.service import CRMService
from tools.errors import tool_error_handler, validation_error_handler
from tools.runtime import Role, acting_as

ToolResult = tuple[str, dict[str, Any]]

LOOKUP_CUSTOMER_DESCRIPTION = (
    "Find the customer you are helping, to verify who they are before discussing their "
    "account. Look up by email, OR by first name + last name + zip code, OR by customer id. "
    "A customer can only be matched to their own account. "
    "Returns the customer id, name, email, address, order ids and payment methods (masked "
    "to the last four digits). An error with code not_found means no account matches: ask "
    "the customer to check the details or try the other way of looking up."
)
GET_ORDER_DESCRIPTION = (
    "Get one order by its id (e.g. #W2611340): status (pending, processed, delivered, "
    "cancelled...), items with prices and options, shipments with tracking ids, items not "
    "shipped yet, and payments/refunds (payment methods masked). Only orders of the customer "
    "you are talking to are found; support staff may pass a customer_id to check an order "
    "belongs to that customer."
)


def _render(payload: dict[str, Any]) -> ToolResult:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")), payload


class CRMTools:
    """The tool functions; ``default_tenant`` serves single-tenant setups without a runtime,
    ``default_role`` staff-facing assistants (``agent``) whose runtime names no role."""

    def __init__(
        self,
        service: CRMService,
        *,
        default_tenant: str | None = None,
        default_role: Role = "customer",
    ) -> None:
        self.service = service
        self.default_tenant = default_tenant
        self.default_role: Role = default_role

    def lookup_customer(
        self,
        email: str | None = None,
        customer_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip: str | None = None,
        *,
        config: RunnableConfig,
    ) -> ToolResult:
        query = CustomerQuery(email, customer_id, first_name, last_name, zip)
        with acting_as(
            config, default_tenant=self.default_tenant, default_role=self.default_role
        ) as caller:
            customers = self.service.customer_lookup(caller, query)
        return _render({"customers": customers, "count": len(customers)})

    async def alookup_customer(
        self,
        email: str | None = None,
        customer_id: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        zip: str | None = None,
        *,
        config: RunnableConfig,
    ) -> ToolResult:
        query = CustomerQuery(email, customer_id, first_name, last_name, zip)
        with acting_as(
            config, default_tenant=self.default_tenant, default_role=self.default_role
        ) as caller:
            customers = await self.service.acustomer_lookup(caller, query)
        return _render({"customers": customers, "count": len(customers)})

    def get_order(
        self, order_id: str, customer_id: str | None = None, *, config: RunnableConfig
    ) -> ToolResult:
        with acting_as(
            config, default_tenant=self.default_tenant, default_role=self.default_role
        ) as caller:
            order = self.service.order_for(caller, order_id, customer_id=customer_id)
        return _render({"order": order})

    async def aget_order(
        self, order_id: str, customer_id: str | None = None, *, config: RunnableConfig
    ) -> ToolResult:
        with acting_as(
            config, default_tenant=self.default_tenant, default_role=self.default_role
        ) as caller:
            order = await self.service.aorder_for(caller, order_id, customer_id=customer_id)
        return _render({"order": order})

    def tools(self) -> list[BaseTool]:
        common: dict[str, Any] = {
            "response_format": "content_and_artifact",
            "handle_tool_error": tool_error_handler,
            "handle_validation_error": validation_error_handler,
        }
        return [
            StructuredTool.from_function(
                func=self.lookup_customer,
                coroutine=self.alookup_customer,
                name="lookup_customer",
                description=LOOKUP_CUSTOMER_DESCRIPTION,
                args_schema=LookupCustomerInput,
                **common,
            ),
            StructuredTool.from_function(
                func=self.get_order,
                coroutine=self.aget_order,
                name="get_order",
                description=GET_ORDER_DESCRIPTION,
                args_schema=GetOrderInput,
                **common,
            ),
        ]


def build_crm_tools(
    service: CRMService, *, default_tenant: str | None = None, default_role: Role = "customer"
) -> list[BaseTool]:
    """``[lookup_customer, get_order]`` over ``service``."""
    return CRMTools(service, default_tenant=default_tenant, default_role=default_role).tools()
