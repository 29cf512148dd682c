"""The SQL backend answers lookups on the real tau2 retail data exactly as the JSONL says."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from langchain_core.messages import ToolMessage

from tools.crm import CRMService, CustomerQuery

from .conftest import OTHER_TENANT, TENANT, Tau2, call, check_customer, check_order, scoped

SAMPLE = 25


def _sample(records: list[dict[str, Any]], n: int = SAMPLE) -> list[dict[str, Any]]:
    return random.Random(7).sample(records, min(n, len(records)))


def test_every_way_of_looking_up_finds_the_customer(crm_service: CRMService, tau2: Tau2) -> None:
    for user in _sample(tau2.users):
        name, zip_code = user["name"], user["address"]["zip"]
        queries = [
            CustomerQuery(email=user["email"].upper()),
            CustomerQuery(customer_id=user["user_id"]),
            CustomerQuery(
                first_name=name["first_name"].lower(),
                last_name=f"  {name['last_name'].upper()} ",
                zip=zip_code,
            ),
        ]
        for query in queries:
            [view] = crm_service.find_customers(TENANT, query)
            check_customer(view, user)


async def test_async_lookups_match_the_fixtures(crm_service: CRMService, tau2: Tau2) -> None:
    for user in _sample(tau2.users, 10):
        [view] = await crm_service.afind_customers(TENANT, CustomerQuery(email=user["email"]))
        check_customer(view, user)
    for order in _sample(tau2.orders, 10):
        check_order(await crm_service.aget_order(TENANT, order["order_id"]), order)


def test_orders_match_the_fixtures_with_or_without_hash(
    crm_service: CRMService, tau2: Tau2
) -> None:
    statuses = {o["status"] for o in tau2.orders}
    sample = _sample(tau2.orders) + [
        next(o for o in tau2.orders if o["status"] == s) for s in sorted(statuses)
    ]
    for order in sample:
        check_order(crm_service.get_order(TENANT, order["order_id"]), order)
        check_order(crm_service.get_order(TENANT, order["order_id"].lstrip("#")), order)


def test_order_of_another_customer_is_not_found(crm_service: CRMService, tau2: Tau2) -> None:
    from tools.errors import NotFoundError

    order = tau2.orders[0]
    owner = order["user_id"]
    assert (
        crm_service.get_order(TENANT, order["order_id"], customer_id=owner)["customer_id"] == owner
    )
    with pytest.raises(NotFoundError):
        crm_service.get_order(TENANT, order["order_id"], customer_id="someone_else_1")


def test_other_tenants_see_nothing_of_acme(crm_service: CRMService, tau2: Tau2) -> None:
    from tools.errors import NotFoundError

    acme_user = tau2.users[0]
    for query in (
        CustomerQuery(email=acme_user["email"]),
        CustomerQuery(
            first_name=acme_user["name"]["first_name"],
            last_name=acme_user["name"]["last_name"],
            zip=acme_user["address"]["zip"],
        ),
    ):
        with pytest.raises(NotFoundError):
            crm_service.find_customers(OTHER_TENANT, query)
        with pytest.raises(NotFoundError):
            crm_service.find_customers("nobody", query)
    [globex] = crm_service.find_customers(
        OTHER_TENANT, CustomerQuery(customer_id=acme_user["user_id"])
    )
    assert globex["email"] == "someone.else@globex.example"
    shared_order = acme_user["orders"][0]
    assert crm_service.get_order(OTHER_TENANT, shared_order)["status"] == "globex-status"
    assert (
        crm_service.get_order(TENANT, shared_order)["status"] == tau2.order(shared_order)["status"]
    )
    with pytest.raises(NotFoundError):
        crm_service.get_order(OTHER_TENANT, tau2.orders[-1]["order_id"])


def test_tools_answer_from_the_runtime_tenant(crm_tools: dict[str, Any], tau2: Tau2) -> None:
    user = tau2.users[3]
    message = call(crm_tools["lookup_customer"], {"email": user["email"]}, scoped())
    assert message.status == "success"
    check_customer(message.artifact["customers"][0], user)
    assert json.loads(message.content) == message.artifact
    elsewhere = call(crm_tools["lookup_customer"], {"email": user["email"]}, scoped(OTHER_TENANT))
    assert elsewhere.status == "error"
    assert json.loads(elsewhere.content)["error"]["code"] == "not_found"
    assert user["email"] not in elsewhere.content


def test_model_cannot_choose_the_tenant(crm_tools: dict[str, Any], tau2: Tau2) -> None:
    user = tau2.users[3]
    message = call(
        crm_tools["lookup_customer"],
        {"email": user["email"], "tenant_id": TENANT},
        scoped("nobody"),
    )
    assert message.status == "error"
    assert json.loads(message.content)["error"]["code"] == "invalid_input"
    assert "tenant_id" in message.content


async def test_async_tool_get_order(crm_tools: dict[str, Any], tau2: Tau2) -> None:
    order = tau2.orders[5]
    tool = crm_tools["get_order"]
    message: ToolMessage = await tool.ainvoke(
        {
            "type": "tool_call",
            "id": "c1",
            "name": tool.name,
            "args": {"order_id": order["order_id"]},
        },
        config=scoped(),
    )
    assert message.status == "success"
    check_order(message.artifact["order"], order)


def test_without_a_tenant_the_tool_says_so(crm_tools: dict[str, Any]) -> None:
    message = call(crm_tools["get_order"], {"order_id": "#W1000201"}, {})
    assert message.status == "error"
    assert json.loads(message.content)["error"]["code"] == "missing_scope"


def test_tool_node_takes_the_tenant_from_the_graph_context(
    crm_tools: dict[str, Any], tau2: Tau2
) -> None:
    from dataclasses import dataclass

    from langchain_core.messages import AIMessage
    from langgraph.graph import END, START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode

    @dataclass
    class Context:
        tenant_id: str
        user_id: str
        role: str = "agent"

    builder = StateGraph(MessagesState, context_schema=Context)
    builder.add_node("tools", ToolNode(list(crm_tools.values())))
    builder.add_edge(START, "tools")
    builder.add_edge("tools", END)
    graph = builder.compile()
    user_id = tau2.users[0]["user_id"]
    request = AIMessage(
        "",
        tool_calls=[{"id": "t1", "name": "lookup_customer", "args": {"customer_id": user_id}}],
    )
    for tenant, email in (
        (OTHER_TENANT, "someone.else@globex.example"),
        (TENANT, tau2.users[0]["email"]),
    ):
        result = graph.invoke(
            {"messages": [request]},
            config={"configurable": {"tenant_id": "nobody"}},
            context=Context(tenant_id=tenant, user_id="u-7"),
        )
        message = result["messages"][-1]
        assert message.status == "success"
        assert json.loads(message.content)["customers"][0]["email"] == email
