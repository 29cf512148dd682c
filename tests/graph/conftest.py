"""Graph fixtures: real services on the embedded defaults with the demo shop loaded once."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from sqlalchemy import text

from agent.demo import prepare
from agent.services import Services
from agent.settings import Settings, load_settings
from graphs.support import build_graph


@pytest.fixture(scope="session")
def graph_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return load_settings(environment="test", data_dir=tmp_path_factory.mktemp("graph") / "data")


@pytest.fixture(scope="session")
async def services(graph_settings: Settings) -> AsyncIterator[Services]:
    """One set of services for the module's tests: ingesting the demo shop takes ~1 s."""
    async with await Services.open(graph_settings) as opened:
        await prepare(opened)
        yield opened


@pytest.fixture(autouse=True)
def _breakers_closed_after_each_test(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that trips a breaker (a failing fake model, say) must not leak it to the next."""
    yield
    if "services" in request.fixturenames:
        services: Services = request.getfixturevalue("services")
        for name in services.resilience.status()["breakers"]:
            services.resilience.breaker(name).close()


@pytest.fixture
def user() -> str:
    """A fresh customer per test, so memories and tickets never leak between tests."""
    return f"user_{uuid.uuid4().hex[:10]}"


@pytest.fixture
def graph(services: Services) -> Any:
    return build_graph(services=services, checkpointer=InMemorySaver())


@contextlib.contextmanager
def breaker_open(services: Services, dependency: str) -> Iterator[None]:
    """Trip one breaker for the duration of a test, then close it again."""
    breaker = services.resilience.breaker(dependency)
    breaker.open()
    try:
        yield
    finally:
        breaker.close()


def count_rows(services: Services, table: str, **where: str) -> int:
    clause = " AND ".join(f"{name} = :{name}" for name in where) or "1=1"
    with services.database.transaction() as connection:
        return int(
            connection.execute(
                text(f"SELECT count(*) FROM {table} WHERE {clause}"), where
            ).scalar_one()
        )


async def turn(
    graph: Any, message: str, *, user: str, thread: str | None = None, **context: Any
) -> dict[str, Any]:
    """One customer turn; returns the full state afterwards (``__interrupt__`` included)."""
    config = {"configurable": {"thread_id": thread or f"t-{uuid.uuid4().hex[:8]}"}}
    result = await graph.ainvoke(
        {"messages": [HumanMessage(message)]}, config, context={"user_id": user, **context}
    )
    snapshot = await graph.aget_state(config)
    return {**snapshot.values, "__interrupt__": snapshot.interrupts, "__result__": result}


DEMO_KB = Path(__file__).resolve().parents[2] / "graphs" / "demo_data" / "kb"
MAYA = "maya_chen_4821"
MAYA_ORDER = "#W1000101"
ANGRY = "This is ridiculous!! My chair broke after two days. I want to talk to a real person NOW."
