"""The caller's scope reaches a tool from the runtime, never from the model's arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode
from langgraph_sdk.auth.types import StudioUser

from tools.errors import tool_error_handler
from tools.runtime import (
    CallerScope,
    IdentityMismatchError,
    MissingScopeError,
    caller_scope,
    precomputed_embedding,
)


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


def _whoami_graph() -> Any:
    """A graph whose model asks for ``whoami``, run by LangGraph's ToolNode."""

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
    return builder.compile()


def test_scope_from_langgraph_context_under_tool_node() -> None:
    result = _whoami_graph().invoke(
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
    with pytest.raises(MissingScopeError, match="tenant_id must be 1-64 characters"):
        caller_scope({"configurable": {"tenant_id": "a/b"}})
    with pytest.raises(MissingScopeError, match="tenant_id must be 1-64 characters"):
        caller_scope({"configurable": {"tenant_id": "t" * 65}})


ATTACKER = {
    "identity": "acme:attacker",
    "tenant_id": "acme",
    "user_id": "attacker",
    "role": "customer",
}


def test_the_authenticated_user_wins_and_a_different_claim_is_refused() -> None:
    """The server's user decides; a client writing someone else into the run is refused."""
    authenticated: RunnableConfig = {"configurable": {"langgraph_auth_user": ATTACKER}}
    assert caller_scope(authenticated, default_tenant="main") == CallerScope(
        "acme", "attacker", None, "customer"
    )
    for claim in ({"user_id": "victim"}, {"tenant_id": "globex"}, {"role": "admin"}):
        config: RunnableConfig = {"configurable": {"langgraph_auth_user": ATTACKER, **claim}}
        with pytest.raises(IdentityMismatchError):
            caller_scope(config)
    same: RunnableConfig = {
        "configurable": {"langgraph_auth_user": ATTACKER, "user_id": "attacker"}
    }
    assert caller_scope(same).user_id == "attacker"


def test_a_claim_in_the_graph_context_is_refused_too() -> None:
    result = _whoami_graph().invoke(
        {"messages": []},
        {"configurable": {"langgraph_auth_user": ATTACKER}},
        context=Context(tenant_id="acme", user_id="victim"),
    )
    assert '"code": "identity_mismatch"' in result["messages"][-1].content


def test_studio_on_langgraph_dev_is_a_developer_who_names_the_customer() -> None:
    config: RunnableConfig = {
        "configurable": {
            "langgraph_auth_user": StudioUser("langgraph-studio-user"),
            "tenant_id": "acme",
            "user_id": "maya",
        }
    }
    assert caller_scope(config) == CallerScope("acme", "maya", None, "customer")


def test_no_default_customer() -> None:
    scope = caller_scope({"configurable": {"thread_id": "t1"}}, default_tenant="main")
    assert scope.user_id is None
    with pytest.raises(MissingScopeError):
        scope.require_user()


def test_precomputed_embedding_only_for_the_same_text() -> None:
    config: RunnableConfig = {
        "configurable": {"turn_embedding": {"text": "hello", "vector": [0.5, 0.5]}}
    }
    assert precomputed_embedding(config, "hello") == [0.5, 0.5]
    assert precomputed_embedding(config, "other") is None
    assert precomputed_embedding(None, "hello") is None
