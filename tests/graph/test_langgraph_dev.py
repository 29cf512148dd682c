"""``langgraph dev`` on our ``langgraph.json``, driven with the SDK the way Studio drives it.

Studio on ``langgraph dev`` connects with LangSmith's auth scheme and names the customer in
the run context; the server supplies its own checkpointer, so this also proves the graph
needs none. Keyed callers are tested in ``test_server_auth``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from agent.demo import prepare
from agent.services import Services
from agent.settings import load_settings
from tests.langgraph_server import langgraph_dev
from tests.openai_server import ModelServer, Text, ToolCalls, serve_model

from .conftest import ANGRY

pytestmark = pytest.mark.slow

OMAR = "omar_haddad_3307"
STUDIO = {"x-auth-scheme": "langsmith"}
OPENAI_KEY = "sk-test-langgraph-dev"
MODEL = "scripted"


@pytest.fixture(scope="module")
def model_server() -> Iterator[ModelServer]:
    with serve_model(api_key=OPENAI_KEY) as double:
        yield double


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_server: ModelServer) -> Iterator[str]:
    workdir = tmp_path_factory.mktemp("langgraph_dev")
    data_dir = workdir / "data"

    async def seed() -> None:
        settings = load_settings(environment="test", data_dir=data_dir)
        async with await Services.open(settings) as services:
            await prepare(services)

    asyncio.run(seed())
    # No default model (runs answer offline); a run whose context names a model talks to
    # the scripted OpenAI-compatible server.
    llm = {"SUPPORT_LLM__BASE_URL": model_server.base_url, "SUPPORT_LLM__API_KEY": OPENAI_KEY}
    with langgraph_dev(workdir, data_dir, llm) as running:
        yield running.url


@pytest.fixture
async def client(server: str) -> AsyncIterator[Any]:
    sdk = get_client(url=server, headers=STUDIO)
    yield sdk
    await sdk.http.client.aclose()


async def test_studio_flow_interrupt_resume_and_state(client: Any, server: str) -> None:
    thread = await client.threads.create()
    thread_id = thread["thread_id"]
    context = {"user_id": OMAR}
    events = []
    async for part in client.runs.stream(
        thread_id,
        "support",
        input={"messages": [{"role": "user", "content": ANGRY}]},
        context=context,
        stream_mode="updates",
    ):
        events.append(part)
    assert all(part.event != "error" for part in events), events
    updated = [name for part in events if part.event == "updates" for name in part.data]
    assert updated[:3] == ["guard", "recall", "triage"]
    assert "__interrupt__" in updated

    paused = await client.threads.get_state(thread_id)
    assert paused["next"] == ["escalate"]
    [interrupt] = paused["interrupts"]
    packet = interrupt["value"]
    assert packet["type"] == "human_handoff"
    assert packet["customer"] == OMAR
    assert packet["ticket_id"].startswith("tkt_")

    reply = "Hi Omar, Dana here: a replacement chair ships today."
    final = await client.runs.wait(
        thread_id,
        "support",
        command={"resume": {"reply": reply, "agent": "Dana"}},
        context=context,
    )
    assert final["messages"][-1]["content"] == reply
    assert final["escalation"]["ticket_id"] == packet["ticket_id"]

    state = await client.threads.get_state(thread_id)
    assert state["next"] == []
    assert state["values"]["escalation"]["status"] == "answered"
    assert state["values"]["messages"][-1]["name"] == "human_agent"

    async with httpx.AsyncClient(base_url=server) as http:
        live = await http.get("/livez")
    assert live.status_code == 200


async def test_studio_sees_the_schemas(client: Any) -> None:
    [assistant] = await client.assistants.search(graph_id="support")
    schemas = await client.assistants.get_schemas(assistant["assistant_id"])
    context = schemas["context_schema"]["properties"]
    assert {"tenant_id", "user_id", "model", "escalation_policy"} <= set(context)
    assert list(schemas["input_schema"]["properties"]) == ["messages"]
    assert {"messages", "sources", "escalation"} <= set(schemas["output_schema"]["properties"])


async def test_knowledge_base_answer_through_the_server(client: Any) -> None:
    thread = await client.threads.create()
    final = await client.runs.wait(
        thread["thread_id"],
        "support",
        input={"messages": [{"role": "user", "content": "Do you ship to Canada?"}]},
        context={"user_id": "maya_chen_4821"},
    )
    answer = final["messages"][-1]["content"]
    assert "Canada" in answer
    assert final["sources"][0]["source"].endswith("international-shipping.md")


def _samples(text: str, name: str) -> dict[str, float]:
    """The samples of one metric family from Prometheus text, keyed by their label set."""
    found = {}
    for line in text.splitlines():
        if line.startswith(name):
            labels, _, value = line.rpartition(" ")
            found[labels] = float(value)
    return found


async def test_product_metrics_and_health_at_their_documented_paths(
    client: Any, server: str, model_server: ModelServer
) -> None:
    model_server.script(
        ToolCalls([("get_order", {"order_id": "#W1000101"})]), Text("Your order is on its way.")
    )
    thread = await client.threads.create()
    final = await client.runs.wait(
        thread["thread_id"],
        "support",
        input={"messages": [{"role": "user", "content": "Where is my order #W1000101?"}]},
        context={"user_id": "maya_chen_4821", "model": MODEL},
    )
    assert final["messages"][-1]["content"] == "Your order is on its way."
    async with httpx.AsyncClient(base_url=server) as http:
        metrics = await http.get("/support/metrics")
        health = await http.get("/health")
    assert metrics.status_code == 200
    text = metrics.text
    assert _samples(text, 'support_turn_seconds_count{outcome="answered"}')
    assert _samples(text, 'support_node_seconds_count{node="tools",outcome="ok"}')
    assert _samples(text, 'support_tool_seconds_count{outcome="ok",tool="get_order"}')
    assert _samples(text, f'support_model_tokens_total{{model="{MODEL}",type="input"}}')
    assert any(value > 0 for value in _samples(text, "resilience_call_seconds_count").values())
    assert health.headers["content-type"].startswith("application/health+json")
    assert health.json()["status"] in ("pass", "warn")
    [sweep] = health.json()["checks"]["sweep"]
    assert sweep["details"]["running"] is True
