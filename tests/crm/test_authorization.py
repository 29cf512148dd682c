"""What each caller may see through the CRM tools, on the demo shop, on both backends.

The caller is the server-authenticated user (``langgraph_auth_user``), as under
``langgraph dev`` with our auth: whatever ids the model passes, a customer sees only their own
record and orders, staff see their tenant's, nobody sees another tenant's; every read is in
the access log, without its content.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.tools import BaseTool
from sqlalchemy import text

from agent.conversation import DEMO_DATA
from storage import migrate
from storage.access_log import AccessLog
from storage.config import DatabaseConfig
from storage.crm import load_jsonl
from storage.engine import Database
from tools.crm import CRMService, SQLCRMBackend, build_crm_tools
from tools.resilience import Resilience, ResilienceConfig

from .conftest import call

MAYA, OMAR = "maya_chen_4821", "omar_haddad_3307"
MAYAS_ORDER = "#W1000101"
MAYAS_EMAIL = "maya.chen@example.com"


@pytest.fixture
def shop(database_url: str) -> Iterator[tuple[Database, str]]:
    database = Database(DatabaseConfig(url=database_url))
    migrate.upgrade(database)
    tenant = f"acme-{uuid.uuid4().hex[:8]}"
    load_jsonl(database, tenant, DEMO_DATA / "customers.jsonl", DEMO_DATA / "orders.jsonl")
    yield database, tenant
    database.dispose()


@pytest.fixture
def tools(shop: tuple[Database, str]) -> Iterator[dict[str, BaseTool]]:
    database, _tenant = shop
    with Resilience(ResilienceConfig()) as resilience:
        service = CRMService(SQLCRMBackend(database), resilience, access_log=AccessLog(database))
        yield {tool.name: tool for tool in build_crm_tools(service)}


def _as(tenant: str, user: str, role: str = "customer") -> dict[str, Any]:
    user_object = {
        "identity": f"{tenant}:{user}",
        "tenant_id": tenant,
        "user_id": user,
        "role": role,
    }
    return {"configurable": {"langgraph_auth_user": user_object, "thread_id": "t-1"}}


def _code(message: Any) -> str | None:
    return json.loads(message.content)["error"]["code"] if message.status == "error" else None


def test_a_customer_reads_their_own_orders_only(
    tools: dict[str, BaseTool], shop: tuple[Database, str]
) -> None:
    _database, tenant = shop
    get_order = tools["get_order"]
    mine = call(get_order, {"order_id": MAYAS_ORDER}, _as(tenant, MAYA))
    assert mine.status == "success"
    assert mine.artifact["order"]["customer_id"] == MAYA
    for args in ({"order_id": MAYAS_ORDER}, {"order_id": MAYAS_ORDER, "customer_id": MAYA}):
        theirs = call(get_order, args, _as(tenant, OMAR))
        assert _code(theirs) == "not_found"
        assert "Orchard" not in theirs.content
    assert _code(call(get_order, {"order_id": MAYAS_ORDER}, _as("globex", MAYA))) == "not_found"


def test_a_lookup_only_ever_finds_the_caller(
    tools: dict[str, BaseTool], shop: tuple[Database, str]
) -> None:
    _database, tenant = shop
    lookup = tools["lookup_customer"]
    found = call(lookup, {"email": MAYAS_EMAIL}, _as(tenant, MAYA))
    assert [c["customer_id"] for c in found.artifact["customers"]] == [MAYA]
    for args in (
        {"email": MAYAS_EMAIL},
        {"customer_id": MAYA},
        {"first_name": "Maya", "last_name": "Chen", "zip": "97205"},
    ):
        other = call(lookup, args, _as(tenant, OMAR))
        assert _code(other) == "not_found"
        assert MAYAS_EMAIL not in other.content
    anonymous = {"configurable": {"tenant_id": tenant, "thread_id": "t-2"}}
    assert _code(call(lookup, {"email": MAYAS_EMAIL}, anonymous)) == "not_found"


def test_staff_see_any_customer_of_their_tenant_and_none_of_another(
    tools: dict[str, BaseTool], shop: tuple[Database, str]
) -> None:
    _database, tenant = shop
    staff = _as(tenant, "dana", "agent")
    assert call(tools["get_order"], {"order_id": MAYAS_ORDER}, staff).status == "success"
    found = call(tools["lookup_customer"], {"email": MAYAS_EMAIL}, staff)
    assert found.artifact["customers"][0]["customer_id"] == MAYA
    narrowed = call(tools["get_order"], {"order_id": MAYAS_ORDER, "customer_id": OMAR}, staff)
    assert _code(narrowed) == "not_found"
    elsewhere = _as("globex", "dana", "agent")
    assert _code(call(tools["get_order"], {"order_id": MAYAS_ORDER}, elsewhere)) == "not_found"


def test_every_read_is_logged_without_its_content(
    tools: dict[str, BaseTool], shop: tuple[Database, str]
) -> None:
    database, tenant = shop
    call(tools["get_order"], {"order_id": MAYAS_ORDER}, _as(tenant, MAYA))
    call(tools["get_order"], {"order_id": MAYAS_ORDER}, _as(tenant, OMAR))
    call(tools["lookup_customer"], {"email": MAYAS_EMAIL}, _as(tenant, "dana", "agent"))
    with database.transaction() as connection:
        rows = connection.execute(
            text(
                "SELECT actor_id, actor_role, subject_id, action, outcome FROM access_log "
                "WHERE tenant_id = :tenant ORDER BY id"
            ),
            {"tenant": tenant},
        ).all()
    assert [tuple(row) for row in rows] == [
        (MAYA, "customer", MAYA, "get_order", "found"),
        (OMAR, "customer", None, "get_order", "not_found"),
        ("dana", "agent", MAYA, "lookup_customer", "found"),
    ]
    with database.transaction() as connection:
        everything = repr(connection.execute(text("SELECT * FROM access_log")).all())
    assert MAYAS_EMAIL not in everything
    assert MAYAS_ORDER not in everything
