"""The caller's scope reaches a tool from the runtime, never from the model's arguments."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from tools.errors import tool_error_handler
from tools.runtime import CallerScope, MissingScopeError, caller_scope, precomputed_embedding


def _whoami(config: RunnableConfig) -> str:
    scope = caller_scope(config)
    return f"{scope.tenant_id}/{scope.require_user()}/{scope.session_id}"


WHOAMI = StructuredTool.from_function(
    func=_whoami,
    name="whoami",
    description="Says who is calling.",
    handle_tool_error=tool_error_handler,
)


@dataclass
class Context:
    tenant_id: str
    user_id: str


def test_model_never_sees_identity_fields() -> None:
    assert WHOAMI.tool_call_schema.model_json_schema()["properties"] == {}


def test_scope_from_configurable() -> None:
    config: RunnableConfig = {
        "configurable": {"tenant_id": "acme", "user_id": "u1", "thread_id": "t9"}
    }
    assert WHOAMI.invoke({}, config=config) == "acme/u1/t9"


def test_scope_from_langgraph_context_under_tool_node() -> None:
    def call(_state: MessagesState) -> dict:
        return {
            "messages": [AIMessage("", tool_calls=[{"name": "whoami", "args": {}, "id": "c1"}])]
        }

    builder = StateGraph(MessagesState, context_schema=Context)
    builder.add_node("call", call)
    builder.add_node("tools", ToolNode([WHOAMI]))
    builder.add_edge(START, "call")
    builder.add_edge("call", "tools")
    builder.add_edge("tools", END)
    result = builder.compile().invoke(
        {"messages": []}, context=Context(tenant_id="acme", user_id="alice")
    )
    assert result["messages"][-1].content == "acme/alice/None"


def test_missing_user_is_a_structured_error() -> None:
    message = WHOAMI.invoke(
        {"name": "whoami", "args": {}, "id": "c1", "type": "tool_call"},
        config={"configurable": {"tenant_id": "acme"}},
    )
    assert message.status == "error"
    assert '"code": "missing_scope"' in message.content


def test_default_tenant_and_malformed_ids() -> None:
    assert caller_scope(None, default_tenant="main") == CallerScope("main")
    with pytest.raises(MissingScopeError):
        caller_scope(None)
    with pytest.raises(MissingScopeError, match="malformed"):
        caller_scope({"configurable": {"tenant_id": "a/b"}})


def test_precomputed_embedding_only_for_the_same_text() -> None:
    config: RunnableConfig = {
        "configurable": {"turn_embedding": {"text": "hello", "vector": [0.5, 0.5]}}
    }
    assert precomputed_embedding(config, "hello") == [0.5, 0.5]
    assert precomputed_embedding(config, "other") is None
    assert precomputed_embedding(None, "hello") is None
