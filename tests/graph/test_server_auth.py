"""The trust boundary, tested where users meet it: ``langgraph dev`` with our auth, driven
through ``langgraph-sdk`` with API keys for two tenants, two customers of one tenant, support
staff and an admin.

Tenant ``acme`` has the demo shop; tenant ``globex`` has one customer of its own and a
customer whose id is the same as an ``acme`` customer's (ids are only unique per tenant).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from agent.credentials import new_api_key
from agent.demo import prepare
from agent.services import Services
from agent.settings import load_settings
from storage.crm import load_jsonl
from tests.langgraph_server import DevServer, langgraph_dev

from .conftest import ANGRY

pytestmark = pytest.mark.slow

MAYA, OMAR = "maya_chen_4821", "omar_haddad_3307"
MAYAS_ORDER, OMARS_ORDER, GLOBEX_ORDER = "#W1000101", "#W1000201", "#W9000001"
MAYAS_STREET = "12 Orchard Lane"
CALLERS = {
    "maya": ("acme", MAYA, "customer"),
    "omar": ("acme", OMAR, "customer"),
    "globex_maya": ("globex", MAYA, "customer"),
    "staff": ("acme", "dana", "agent"),
    "admin": ("acme", "ops", "admin"),
}


def _globex_shop(folder: Path) -> tuple[Path, Path]:
    """One customer and one order that exist only in tenant ``globex``."""
    customer = {
        "user_id": "gina_globex_0001",
        "name": {"first_name": "Gina", "last_name": "Globex"},
        "address": {
            "address1": "1 Globex Way",
            "address2": "",
            "city": "Cypress Creek",
            "country": "USA",
            "state": "OR",
            "zip": "97000",
        },
        "email": "gina@globex.example",
        "payment_methods": {},
        "orders": [GLOBEX_ORDER],
    }
    order = {
        "order_id": GLOBEX_ORDER,
        "user_id": "gina_globex_0001",
        "address": customer["address"],
        "items": [],
        "fulfillments": [],
        "status": "pending",
        "payment_history": [],
    }
    users, orders = folder / "globex_users.jsonl", folder / "globex_orders.jsonl"
    users.write_text(json.dumps(customer) + "\n")
    orders.write_text(json.dumps(order) + "\n")
    return users, orders


@pytest.fixture(scope="module")
def keys() -> dict[str, tuple[str, dict[str, Any]]]:
    return {name: new_api_key(*caller) for name, caller in CALLERS.items()}  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("server_auth")
    data_dir = workdir / "data"

    async def seed() -> None:
        settings = load_settings(environment="test", data_dir=data_dir, tenant_id="acme")
        async with await Services.open(settings) as services:
            await prepare(services)
            users, orders = _globex_shop(workdir)
            await asyncio.to_thread(load_jsonl, services.database, "globex", users, orders)

    asyncio.run(seed())
    return workdir


@pytest.fixture(scope="module")
def server(shop: Path, keys: dict[str, tuple[str, dict[str, Any]]]) -> Iterator[DevServer]:
    entries = json.dumps([entry for _key, entry in keys.values()])
    env = {"SUPPORT_TENANT_ID": "acme", "SUPPORT_AUTH__API_KEYS": entries}
    with langgraph_dev(shop, shop / "data", env) as running:
        yield running


@pytest.fixture
async def clients(
    server: DevServer, keys: dict[str, tuple[str, dict[str, Any]]]
) -> AsyncIterator[dict[str, Any]]:
    made = {
        name: get_client(url=server.url, headers={"Authorization": f"Bearer {key}"})
        for name, (key, _entry) in keys.items()
    }
    made["studio"] = get_client(url=server.url, headers={"x-auth-scheme": "langsmith"})
    yield made
    for client in made.values():
        await client.aclose()


async def _say(client: Any, thread_id: str, text: str, **kwargs: Any) -> dict[str, Any]:
    return await client.runs.wait(
        thread_id, "support", input={"messages": [{"role": "user", "content": text}]}, **kwargs
    )


async def _status(call: Any) -> int:
    """The HTTP status a client call ends with (200 when it succeeds)."""
    try:
        await call
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


async def _drain(stream: Any) -> None:
    async for _part in stream:
        pass


async def test_no_key_or_a_wrong_key_is_401(server: DevServer) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.post("/threads", json={})).status_code == 401
        assert (await http.post("/threads/search", json={})).status_code == 401
        forged = {"Authorization": "Bearer sk-support-forged"}
        assert (await http.post("/threads", json={}, headers=forged)).status_code == 401


async def test_a_customers_thread_is_theirs_alone(clients: dict[str, Any]) -> None:
    maya, omar, globex_maya = clients["maya"], clients["omar"], clients["globex_maya"]
    thread = await maya.threads.create()
    thread_id = thread["thread_id"]
    await _say(maya, thread_id, ANGRY)
    paused = await maya.threads.get_state(thread_id)
    assert paused["next"] == ["escalate"]

    for other in (omar, globex_maya):
        assert await _status(other.threads.get(thread_id)) == 404
        assert await _status(other.threads.get_state(thread_id)) == 404
        assert await _status(other.threads.get_history(thread_id)) == 404
        assert await _status(other.runs.list(thread_id)) == 404
        assert await _status(other.threads.update(thread_id, metadata={"owner": "me"})) == 404
        assert await _status(_say(other, thread_id, "Tell me everything")) == 404
        resume = other.runs.wait(thread_id, "support", command={"resume": "hijacked"})
        assert await _status(resume) == 404
        assert await _status(_drain(other.runs.stream(thread_id, "support", input={}))) == 404
        assert thread_id not in {t["thread_id"] for t in await other.threads.search(limit=100)}
        assert await _status(other.threads.delete(thread_id)) == 404

    state = await maya.threads.get_state(thread_id)
    assert state["next"] == ["escalate"]
    assert state["values"]["messages"][0]["content"] == ANGRY


async def test_staff_answer_a_hand_off_of_their_own_tenant(clients: dict[str, Any]) -> None:
    maya, staff = clients["maya"], clients["staff"]
    thread = await maya.threads.create()
    await _say(maya, thread["thread_id"], ANGRY)
    reply = "Dana here: a replacement ships today."
    final = await staff.runs.wait(
        thread["thread_id"], "support", command={"resume": {"reply": reply, "agent": "Dana"}}
    )
    assert final["messages"][-1]["content"] == reply
    packet_owner = (await maya.threads.get_state(thread["thread_id"]))["values"]["owner"]
    assert packet_owner == {"tenant_id": "acme", "user_id": MAYA}
    hijack = {"owner": "acme:dana", "user_id": "dana", "note": "answered"}
    await staff.threads.update(thread["thread_id"], metadata=hijack)
    kept = await maya.threads.get(thread["thread_id"])
    assert kept["metadata"]["owner"] == "acme:maya_chen_4821"
    assert kept["metadata"]["note"] == "answered"


async def test_a_run_naming_someone_else_is_refused(clients: dict[str, Any]) -> None:
    omar = clients["omar"]
    thread = await omar.threads.create()
    for claim in ({"user_id": MAYA}, {"tenant_id": "globex"}, {"role": "admin"}):
        response = _say(omar, thread["thread_id"], "Where is my order?", context=claim)
        assert await _status(response) == 403
    configurable = {"configurable": {"user_id": MAYA}}
    response = _say(omar, thread["thread_id"], "hi", config=configurable)
    assert await _status(response) == 403


async def test_orders_are_seen_by_their_customer_and_their_tenants_staff_only(
    clients: dict[str, Any],
) -> None:
    async def ask(who: str, order_id: str) -> str:
        client = clients[who]
        thread = await client.threads.create()
        final = await _say(client, thread["thread_id"], f"What is the status of order {order_id}?")
        return str(final["messages"][-1]["content"])

    omar_asks_for_mayas = await ask("omar", MAYAS_ORDER)
    assert "could not find" in omar_asks_for_mayas
    assert MAYAS_STREET not in omar_asks_for_mayas
    assert "could not find" not in await ask("omar", OMARS_ORDER)
    assert "could not find" not in await ask("maya", MAYAS_ORDER)
    assert "could not find" not in await ask("staff", MAYAS_ORDER)
    assert "could not find" in await ask("staff", GLOBEX_ORDER)
    assert "could not find" in await ask("globex_maya", MAYAS_ORDER)


async def test_memories_stay_with_their_customer(clients: dict[str, Any]) -> None:
    sentinel = f"maya.{uuid.uuid4().hex[:8]}@example.com"
    maya, omar, globex_maya = clients["maya"], clients["omar"], clients["globex_maya"]
    thread = await maya.threads.create()
    told = await _say(maya, thread["thread_id"], f"My email is {sentinel}. Do you ship to Canada?")
    assert any(sentinel in fact["content"] for fact in told["remembered"])
    for other in (omar, globex_maya):
        thread = await other.threads.create()
        asked = await _say(other, thread["thread_id"], "What is my email address?")
        state = await other.threads.get_state(thread["thread_id"])
        assert sentinel not in json.dumps(asked)
        assert sentinel not in json.dumps(state["values"])
    thread = await maya.threads.create()
    await _say(maya, thread["thread_id"], "What is my email address?")
    recalled = (await maya.threads.get_state(thread["thread_id"]))["values"]["memories"]
    assert any(sentinel in memory["content"] for memory in recalled)


async def test_store_items_live_under_their_owner(clients: dict[str, Any]) -> None:
    maya, omar, admin = clients["maya"], clients["omar"], clients["admin"]
    await maya.store.put_item(("notes",), "size", {"value": "M"})
    mine = await maya.store.search_items(("notes",))
    assert [item["value"] for item in mine["items"]] == [{"value": "M"}]
    assert mine["items"][0]["namespace"] == ["acme", MAYA, "notes"]
    assert (await omar.store.search_items(("acme", MAYA)))["items"] == []
    assert (await omar.store.search_items(("notes",)))["items"] == []
    staff_view = await admin.store.search_items(("acme", MAYA))
    assert [item["key"] for item in staff_view["items"]] == ["size"]


async def test_only_an_admin_changes_assistants(clients: dict[str, Any]) -> None:
    [assistant] = await clients["maya"].assistants.search(graph_id="support")
    update = clients["maya"].assistants.update(assistant["assistant_id"], metadata={"x": "y"})
    assert await _status(update) == 403
    created = await clients["admin"].assistants.create("support", name="acme support")
    assert created["metadata"]["tenant_id"] == "acme"
