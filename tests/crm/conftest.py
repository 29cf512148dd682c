"""CRM fixtures: the demo shop the project ships (tau2-retail shape), loaded for tenant
``acme`` on SQLite and Postgres, so the CRM tests run on a fresh clone."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from storage import migrate
from storage.config import DatabaseConfig
from storage.crm import load_jsonl
from storage.engine import Database
from tests.postgres_database import fresh_postgres_database
from tools.crm import CRMService, SQLCRMBackend, build_crm_tools, mask_reference
from tools.resilience import Resilience, ResilienceConfig

TENANT = "acme"
OTHER_TENANT = "globex"


@dataclass(frozen=True)
class Tau2:
    users_path: Path
    orders_path: Path
    users: list[dict[str, Any]]
    orders: list[dict[str, Any]]

    def user(self, user_id: str) -> dict[str, Any]:
        return next(u for u in self.users if u["user_id"] == user_id)

    def order(self, order_id: str) -> dict[str, Any]:
        return next(o for o in self.orders if o["order_id"] == order_id)


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


SHOP = Path(__file__).resolve().parents[2] / "graphs" / "demo_data"


@pytest.fixture(scope="session")
def tau2() -> Tau2:
    users, orders = SHOP / "customers.jsonl", SHOP / "orders.jsonl"
    return Tau2(users, orders, _read(users), _read(orders))


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def other_tenant_records(tau2: Tau2) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Globex has a customer with the same id as one of acme's, but other data."""
    user = json.loads(json.dumps(tau2.users[0]))
    user["email"] = "someone.else@globex.example"
    user["address"]["zip"] = "00001"
    order = json.loads(json.dumps(tau2.order(user["orders"][0])))
    order["status"] = "globex-status"
    return [user], [order]


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def crm_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tau2: Tau2
) -> Iterator[Database]:
    """A migrated database with acme (all of tau2) and globex (one look-alike customer)."""
    stack = ExitStack()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('crm') / 'crm.db'}"
    else:
        url = stack.enter_context(
            fresh_postgres_database(request.getfixturevalue("postgres_server_url"))
        )
    database = Database(DatabaseConfig(url=url))
    migrate.upgrade(database)
    load_jsonl(database, TENANT, tau2.users_path, tau2.orders_path)
    folder = tmp_path_factory.mktemp("globex")
    users, orders = other_tenant_records(tau2)
    load_jsonl(
        database,
        OTHER_TENANT,
        write_jsonl(folder / "users.jsonl", users),
        write_jsonl(folder / "orders.jsonl", orders),
    )
    yield database
    database.dispose()
    stack.close()


@pytest.fixture(scope="session")
def resilience() -> Iterator[Resilience]:
    built = Resilience(
        ResilienceConfig.model_validate({"default": {"backoff_initial_s": 0.001, "timeout_s": 5}})
    )
    yield built
    built.close()


@pytest.fixture(scope="session")
def crm_service(crm_database: Database, resilience: Resilience) -> CRMService:
    return CRMService(SQLCRMBackend(crm_database), resilience)


@pytest.fixture(scope="session")
def crm_tools(crm_service: CRMService) -> dict[str, Any]:
    return {tool.name: tool for tool in build_crm_tools(crm_service)}


def scoped(tenant: str = TENANT, **extra: Any) -> dict[str, Any]:
    """A RunnableConfig naming the caller the way LangGraph's configurable does: a member of
    the tenant's support staff, who may look up any of its customers (what a customer may
    see is tested in ``test_authorization``)."""
    configurable = {"tenant_id": tenant, "user_id": "u-1", "thread_id": "t-1", "role": "agent"}
    return {"configurable": {**configurable, **extra}}


def call(tool: BaseTool, args: dict[str, Any], config: dict[str, Any]) -> ToolMessage:
    """Invoke ``tool`` the way a ToolNode does: with a ToolCall, so errors become messages."""
    message = tool.invoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}, config=config
    )
    assert isinstance(message, ToolMessage)
    return message


def check_customer(view: dict[str, Any], user: dict[str, Any]) -> None:
    assert view["customer_id"] == user["user_id"]
    assert view["name"] == f"{user['name']['first_name']} {user['name']['last_name']}"
    assert view["email"] == user["email"]
    assert view["address"] == user["address"]
    assert view["order_ids"] == user["orders"]
    methods = user["payment_methods"].values()
    assert sorted(m["reference"] for m in view["payment_methods"]) == sorted(
        mask_reference(m["id"]) for m in methods
    )
    cards = {m["last_four"] for m in methods if m["source"] == "credit_card"}
    assert {m["last4"] for m in view["payment_methods"] if m["kind"] == "credit_card"} == cards
    raw = json.dumps(view)
    for method in methods:
        assert method["id"] not in raw


def check_order(view: dict[str, Any], order: dict[str, Any]) -> None:
    assert view["order_id"] == order["order_id"]
    assert view["customer_id"] == order["user_id"]
    assert view["status"] == order["status"]
    assert [i["item_id"] for i in view["items"]] == [i["item_id"] for i in order["items"]]
    assert [i["price"] for i in view["items"]] == [i["price"] for i in order["items"]]
    assert view["items_total"] == round(sum(i["price"] for i in order["items"]), 2)
    assert [s["tracking_ids"] for s in view["shipments"]] == [
        f["tracking_id"] for f in order["fulfillments"]
    ]
    shipped = {i for f in order["fulfillments"] for i in f["item_ids"]}
    assert view["unshipped_item_ids"] == [
        i["item_id"] for i in order["items"] if i["item_id"] not in shipped
    ]
    assert [(p["transaction"], p["amount"]) for p in view["payments"]] == [
        (p["transaction_type"], p["amount"]) for p in order["payment_history"]
    ]
    for payment in order["payment_history"]:
        assert payment["payment_method_id"] not in json.dumps(view)
