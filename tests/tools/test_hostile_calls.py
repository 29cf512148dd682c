"""Every input is hostile, the model's and the runtime's: fuzzing every tool of the pack.

On PostgreSQL (which, unlike SQLite, enforces column widths) with every breaker set to trip at
the first counted failure: hypothesis sends each tool arbitrary arguments under arbitrary
identities (ids of any length, lone surrogates, control characters). Every call must end in a
result or a structured error, and no breaker may count a failure: one tenant's bad input must
never refuse another tenant's calls. Then: rate limits apply to calls the model makes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from agent.services import Services
from agent.settings import load_settings
from storage import migrate
from storage.config import DatabaseConfig
from storage.engine import Database
from storage.ids import ID_PATTERN

DEPENDENCIES = ("memory", "knowledge_base", "crm", "tickets", "embeddings", "conversation")
HOSTILE_TEXT = st.text(
    st.characters(codec=None, exclude_categories=()), max_size=300
) | st.sampled_from(["", " ", "\ud800", "a\x00b", "t" * 65, "x" * 5000, "'; DROP TABLE x; --"])
ANY_VALUE = st.one_of(
    HOSTILE_TEXT,
    st.integers(),
    st.floats(allow_nan=True),
    st.none(),
    st.booleans(),
    st.lists(HOSTILE_TEXT, max_size=3),
    st.dictionaries(HOSTILE_TEXT, HOSTILE_TEXT, max_size=2),
)
PLAUSIBLE = st.sampled_from(
    ["shoe size", "returns", "#W1000101", "maya.chen@example.com", "fact", "other", 3, 0.5]
)
IDS = (
    st.sampled_from(["acme", "globex", "maya_chen_4821"])
    | st.from_regex(ID_PATTERN, fullmatch=True)
    | HOSTILE_TEXT
)


@pytest.fixture(scope="module")
def services(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    database = Database(DatabaseConfig(url=postgres_url))
    migrate.upgrade(database)
    database.dispose()
    policies = {name: {"fail_max": 1, "max_attempts": 1} for name in DEPENDENCIES}
    opened = Services.create(
        load_settings(
            environment="test",
            data_dir=Path(tmp_path_factory.mktemp("hostile")) / "data",
            database={"url": postgres_url},
            resilience={"dependencies": policies},
        )
    )
    yield opened
    opened.close()


VALID = {
    "search_knowledge_base": {"query": "How do returns work?"},
    "remember": {"content": "Prefers email", "content_type": "preference"},
    "recall": {"query": "contact preference"},
    "forget": {"memory_id": "0" * 32},
    "lookup_customer": {"email": "maya.chen@example.com"},
    "get_order": {"order_id": "#W1000101"},
    "escalate_to_human": {"reason": "other", "summary": "Please call me back."},
}


def _arguments(tool: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A valid call, one with hostile values in some fields, or anything at all."""
    fields = list(tool.tool_call_schema.model_json_schema()["properties"])
    values = PLAUSIBLE | ANY_VALUE
    valid = VALID[tool.name]
    spoiled = st.fixed_dictionaries({k: st.just(v) | values for k, v in valid.items()})
    anything = st.fixed_dictionaries({}, optional={name: values for name in [*fields, "tenant_id"]})
    return st.just(valid) | spoiled | anything


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data(), tenant=IDS, user=IDS | st.none())
def test_no_input_trips_a_breaker(services: Services, data: Any, tenant: str, user: Any) -> None:
    tool = data.draw(st.sampled_from(services.tools))
    args = data.draw(_arguments(tool))
    configurable = {"tenant_id": tenant, "user_id": user, "thread_id": "fuzz"}
    call = {"type": "tool_call", "id": "c1", "name": tool.name, "args": args}
    try:
        message = tool.invoke(call, config={"configurable": configurable})
    except Exception as exc:  # LangChain raises schema errors the tool did not handle
        pytest.fail(f"{tool.name} raised {type(exc).__name__} instead of a structured error")
    assert isinstance(message, ToolMessage)
    event(f"{tool.name}: {message.status}")
    if message.status == "error":
        error = json.loads(message.content)["error"]
        assert set(error) >= {"code", "message", "retryable"}
    breakers = services.resilience.status()["breakers"]
    assert {name: b["failures"] for name, b in breakers.items() if b["failures"]} == {}
    assert {name for name, b in breakers.items() if b["state"] != "closed"} == set()


def test_rate_limits_apply_to_calls_the_model_makes(tmp_path: Path) -> None:
    once_a_minute = {"rate_limit_session": "2/m"}
    services = Services.create(
        load_settings(
            environment="test",
            data_dir=tmp_path / "data",
            resilience={"dependencies": {"memory": once_a_minute, "knowledge_base": once_a_minute}},
        )
    )
    try:
        builder = StateGraph(MessagesState)
        builder.add_node("tools", ToolNode(services.tools))
        builder.add_edge(START, "tools")
        builder.add_edge("tools", END)
        graph = builder.compile()
        session = f"s-{uuid.uuid4().hex[:8]}"
        config = {"configurable": {"tenant_id": "acme", "user_id": "maya", "thread_id": session}}
        codes = []
        calls = [("recall", {"query": f"shoe size {n}"}) for n in range(3)]
        calls += [("search_knowledge_base", {"query": f"returns {n}"}) for n in range(3)]
        for name, args in calls:
            request = AIMessage("", tool_calls=[{"id": "c", "name": name, "args": args}])
            reply = graph.invoke({"messages": [request]}, config)["messages"][-1]
            codes.append(json.loads(reply.content).get("error", {}).get("code"))
    finally:
        services.close()
    assert codes == [None, None, "rate_limited", None, None, "rate_limited"]
