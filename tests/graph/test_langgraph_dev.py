"""``langgraph dev`` on our ``langgraph.json``, driven with the SDK the way Studio drives it.

The server runs in a subprocess with the project's environment on a free port, against a
data directory the test prepared (demo shop ingested), and is always stopped by the test.
It supplies its own checkpointer, so this also proves the exported graph needs none.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from agent.demo import prepare
from agent.services import Services
from agent.settings import load_settings

from .conftest import ANGRY

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
LANGGRAPH = Path(sys.executable).with_name("langgraph")
READY_TIMEOUT_S = 120
OMAR = "omar_haddad_3307"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_env(data_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL") and not key.startswith("SUPPORT_")
    }
    env.update(
        SUPPORT_ENVIRONMENT="test",
        SUPPORT_DATA_DIR=str(data_dir),
        LANGGRAPH_NO_VERSION_CHECK="true",
        LANGSMITH_TRACING="false",
        LANGCHAIN_TRACING_V2="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data_dir = tmp_path_factory.mktemp("langgraph_dev") / "data"

    async def seed() -> None:
        settings = load_settings(environment="test", data_dir=data_dir)
        async with await Services.open(settings) as services:
            await prepare(services)

    asyncio.run(seed())
    port = _free_port()
    log_path = data_dir.parent / "server.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                str(LANGGRAPH),
                "dev",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
                "--no-browser",
                "--no-reload",
                "--config",
                "langgraph.json",
            ],
            cwd=ROOT,
            env=_server_env(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"langgraph dev exited early:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(f"{url}/ok", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"langgraph dev not ready in time:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(process)


@pytest.fixture
async def client(server: str) -> AsyncIterator[Any]:
    sdk = get_client(url=server)
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
