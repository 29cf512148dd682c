"""remember / recall / forget: duplicates, isolation between callers, errors, standard tests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import Embeddings
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from storage import migrate
from storage.config import DatabaseConfig, MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import MemoryStore
from tools.memory_tools import build_memory_tools
from tools.resilience import Resilience, ResilienceConfig


def by_name(tools: list[BaseTool]) -> dict[str, BaseTool]:
    return {tool.name: tool for tool in tools}


def call(tool: BaseTool, args: dict[str, Any], config: RunnableConfig) -> tuple[str, Any]:
    message = tool.invoke(
        {"name": tool.name, "args": args, "id": "call-1", "type": "tool_call"}, config=config
    )
    assert isinstance(message, ToolMessage)
    return message.status, json.loads(message.content)


@pytest.fixture
def memory_tools(memory_store: MemoryStore) -> dict[str, BaseTool]:
    return by_name(build_memory_tools(memory_store))


def test_the_model_never_names_the_user(memory_tools: dict[str, BaseTool]) -> None:
    for tool in memory_tools.values():
        properties = tool.tool_call_schema.model_json_schema()["properties"]
        assert not {"tenant_id", "user_id", "session_id", "config"} & set(properties)


def test_a_duplicate_returns_the_existing_memory_id(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    me = caller()
    remember = memory_tools["remember"]
    status, first = call(remember, {"content": "Prefers email over phone calls"}, me)
    assert status == "success"
    assert first["status"] == "stored"
    status, again = call(remember, {"content": "  prefers email over phone calls. "}, me)
    assert status == "success"
    assert again["status"] == "duplicate"
    assert again["memory_id"] == first["memory_id"]
    assert again["existing_content"] == "Prefers email over phone calls"
    assert "nothing changed" in again["hint"]


def test_a_correction_replaces_the_old_memory_and_says_so(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    me = caller()
    remember, recall = memory_tools["remember"], memory_tools["recall"]
    _, old = call(
        remember, {"content": "My phone number is 503-555-0100", "content_type": "identifier"}, me
    )
    status, new = call(
        remember,
        {"content": "My new phone number is 503-555-0147", "content_type": "identifier"},
        me,
    )
    assert status == "success"
    assert new["status"] == "corrected"
    assert new["replaced"] == [
        {"memory_id": old["memory_id"], "content": "My phone number is 503-555-0100"}
    ]
    _, found = call(recall, {"query": "phone number", "content_types": ["identifier"]}, me)
    assert [m["content"] for m in found["memories"]] == ["My new phone number is 503-555-0147"]


def test_the_model_can_name_what_a_memory_replaces(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    me = caller()
    remember = memory_tools["remember"]
    _, old = call(remember, {"content": "Has a dog called Rex"}, me)
    _, new = call(remember, {"content": "Has a cat called Tom", "replaces": [old["memory_id"]]}, me)
    assert new["status"] == "corrected"
    assert [r["memory_id"] for r in new["replaced"]] == [old["memory_id"]]
    status, error = call(remember, {"content": "x y z", "replaces": ["not-an-id"]}, me)
    assert status == "error"
    assert error["error"]["code"] == "invalid_input"
    assert error["error"]["fields"][0]["field"] == "replaces"


def test_recall_and_forget_round_trip(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    me = caller()
    _, stored = call(memory_tools["remember"], {"content": "Lives in Lyon", "importance": 0.9}, me)
    _, recalled = call(memory_tools["recall"], {"query": "Lives in Lyon"}, me)
    assert [m["memory_id"] for m in recalled["memories"]] == [stored["memory_id"]]
    assert recalled["memories"][0]["content_type"] == "fact"

    status, forgotten = call(memory_tools["forget"], {"memory_id": stored["memory_id"]}, me)
    assert (status, forgotten["status"]) == ("success", "forgotten")
    _, recalled = call(memory_tools["recall"], {"query": "Lives in Lyon"}, me)
    assert recalled["memories"] == []
    status, again = call(memory_tools["forget"], {"memory_id": stored["memory_id"]}, me)
    assert (status, again["error"]["code"]) == ("error", "not_found")


def test_no_caller_ever_sees_or_forgets_another_callers_memory(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    alice = caller(tenant="acme", user="alice")
    _, stored = call(memory_tools["remember"], {"content": "Card ends in 4242"}, alice)
    others = [
        caller(tenant="acme", user="bob"),
        caller(tenant="globex", user="alice"),
        caller(tenant="acme-2", user="alice"),
    ]
    for other in others:
        _, recalled = call(memory_tools["recall"], {"query": "Card ends in 4242"}, other)
        assert recalled["memories"] == []
        status, result = call(memory_tools["forget"], {"memory_id": stored["memory_id"]}, other)
        assert (status, result["error"]["code"]) == ("error", "not_found")
    _, recalled = call(memory_tools["recall"], {"query": "Card ends in 4242"}, alice)
    assert [m["memory_id"] for m in recalled["memories"]] == [stored["memory_id"]]


def test_identity_in_arguments_is_refused_and_a_missing_user_is_reported(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    status, result = call(
        memory_tools["recall"], {"query": "anything", "user_id": "bob"}, caller(user="alice")
    )
    assert (status, result["error"]["code"]) == ("error", "invalid_input")
    status, result = call(
        memory_tools["remember"], {"content": "x y z"}, {"configurable": {"tenant_id": "acme"}}
    )
    assert (status, result["error"]["code"]) == ("error", "missing_scope")


async def test_async_tools_share_the_same_memories(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig]
) -> None:
    me = caller()
    stored = json.loads(await memory_tools["remember"].ainvoke({"content": "Has a dog"}, me))
    found = json.loads(await memory_tools["recall"].ainvoke({"query": "Has a dog"}, me))
    assert found["memories"][0]["memory_id"] == stored["memory_id"]
    gone = json.loads(await memory_tools["forget"].ainvoke({"memory_id": stored["memory_id"]}, me))
    assert gone["status"] == "forgotten"


text_or_junk = st.text(max_size=4200) | st.integers() | st.none() | st.lists(st.text(), max_size=2)
ARGUMENTS = {
    "remember": st.fixed_dictionaries(
        {},
        optional={
            "content": text_or_junk,
            "content_type": st.sampled_from(["fact", "preference", "x", ""]) | text_or_junk,
            "importance": st.floats(allow_nan=True) | text_or_junk,
            "metadata": st.dictionaries(st.text(max_size=5), st.text(max_size=5)),
        },
    ),
    "recall": st.fixed_dictionaries(
        {},
        optional={
            "query": text_or_junk,
            "content_types": st.lists(st.sampled_from(["fact", "episode", "bad"])) | text_or_junk,
            "limit": st.integers(min_value=-3, max_value=100) | text_or_junk,
        },
    ),
    "forget": st.fixed_dictionaries(
        {}, optional={"memory_id": st.from_regex(r"[0-9a-f]{32}", fullmatch=True) | text_or_junk}
    ),
}


@pytest.mark.parametrize("name", sorted(ARGUMENTS))
def test_arbitrary_arguments_give_a_structured_error(
    memory_tools: dict[str, BaseTool], caller: Callable[..., RunnableConfig], name: str
) -> None:
    me = caller()

    @settings(
        max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(args=ARGUMENTS[name])
    def check(args: dict[str, Any]) -> None:
        status, payload = call(memory_tools[name], args, me)
        if status == "error":
            assert payload["error"]["code"] in {"invalid_input", "not_found"}
        else:
            assert isinstance(payload, dict)

    check()


class _MemoryToolStandard:
    """Shared set-up: the standard tests run as a caller inside a graph would."""

    tool_name = ""
    example: dict[str, Any]
    store: MemoryStore
    resilience: Resilience | None = None
    memory_id = ""

    def prepare(self, tool_name: str, example: dict[str, Any], store: MemoryStore) -> None:
        """Called with the caller's config in context: the memory belongs to that caller."""
        self.tool_name = tool_name
        self.example = example
        self.store = store
        remember = by_name(build_memory_tools(store))["remember"]
        self.memory_id = json.loads(remember.invoke({"content": "Ships to Lyon"}))["memory_id"]

    @property
    def tool_constructor(self) -> Any:
        def build(store: MemoryStore, resilience: Resilience | None) -> BaseTool:
            return by_name(build_memory_tools(store, resilience=resilience))[self.tool_name]

        return build

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"store": self.store, "resilience": self.resilience}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        if self.tool_name == "forget":
            return {"memory_id": self.memory_id}
        return self.example


@pytest.mark.parametrize(
    ("tool_name", "example"),
    [
        ("remember", {"content": "Prefers morning deliveries", "content_type": "preference"}),
        ("recall", {"query": "Where does the customer live?", "limit": 3}),
        ("forget", {}),
    ],
)
class TestMemoryToolsUnit(_MemoryToolStandard, ToolsUnitTests):
    @pytest.fixture(autouse=True)
    def _prepare(
        self,
        tool_name: str,
        example: dict[str, Any],
        memory_store: MemoryStore,
        as_caller: RunnableConfig,
    ) -> None:
        self.prepare(tool_name, example, memory_store)


@pytest.fixture
def postgres_memory(postgres_url: str) -> Iterator[Database]:
    database = Database(DatabaseConfig(url=postgres_url))
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def onnx_embeddings() -> Embeddings:
    return LocalOnnxEmbeddings()


@pytest.mark.parametrize(
    ("tool_name", "example"),
    [
        ("remember", {"content": "Prefers morning deliveries", "content_type": "preference"}),
        ("recall", {"query": "Where does the customer live?", "limit": 3}),
        ("forget", {}),
    ],
)
class TestMemoryToolsIntegration(_MemoryToolStandard, ToolsIntegrationTests):
    """PostgreSQL, the local embedding model and the resilience guard."""

    @pytest.fixture(autouse=True)
    def _prepare(
        self,
        tool_name: str,
        example: dict[str, Any],
        postgres_memory: Database,
        onnx_embeddings: Embeddings,
        as_caller: RunnableConfig,
    ) -> Iterator[None]:
        self.prepare(
            tool_name, example, MemoryStore(postgres_memory, onnx_embeddings, MemoryConfig())
        )
        self.resilience = Resilience(ResilienceConfig())
        yield
        self.resilience.close()

    def test_a_successful_call(self, tool: BaseTool) -> None:
        args = self.tool_invoke_params_example
        message = tool.invoke({"name": tool.name, "args": args, "id": "1", "type": "tool_call"})
        assert message.status == "success", message.content
        assert self.resilience is not None
        assert "memory" in self.resilience.status()["breakers"]
