"""The chat model's failure policy against a real OpenAI-compatible server.

The model is ``ChatOpenAI`` built by ``build_chat_model`` from settings read from the
environment, guarded by ``Resilience`` as dependency ``llm``, and called through
``model_call`` the way the respond node calls it; the server is ``tests/openai_server``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, reject, settings
from hypothesis import strategies as st
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers.openai_tools import make_invalid_tool_call, parse_tool_call
from langchain_openai import ChatOpenAI

from agent.settings import Settings
from graphs.support.model import build_chat_model
from graphs.support.model_call import acall_model, call_model, problems
from tests.openai_server import ModelServer, Status, Text, ToolCalls, serve_model
from tools.resilience import Resilience

TOOLS = {"get_order", "search_knowledge_base"}
ORDER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_order",
        "description": "Get one order by its id.",
        "parameters": {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    },
}
PROMPT = [HumanMessage("Where is my order #W1?")]


def _streaming_model(server: ModelServer) -> Any:
    return ChatOpenAI(
        model="scripted", base_url=server.base_url, api_key="x", max_retries=0, streaming=True
    ).bind_tools([ORDER_TOOL])


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with serve_model() as server:
        yield server


@pytest.fixture
def llm(
    model_server: ModelServer,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[Any, Any, Resilience]]:
    """(async invoke, sync invoke, resilience) as the respond node builds them, from
    ``SUPPORT_LLM__*`` variables (the timeout is 60 s unless a test sets it)."""
    monkeypatch.setenv("SUPPORT_LLM__MODEL", "scripted")
    monkeypatch.setenv("SUPPORT_LLM__BASE_URL", model_server.base_url)
    monkeypatch.setenv("SUPPORT_LLM__TIMEOUT_S", "60")
    settings = make_settings()
    resilience = Resilience(settings.resilience)
    model = build_chat_model(settings.llm, "scripted").bind_tools([ORDER_TOOL])
    guard = resilience.guard("llm", operation="chat")
    yield guard(model.ainvoke), guard(model.invoke), resilience
    resilience.close()


async def test_a_slow_model_within_its_timeout_gets_one_request_and_is_used(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    """11 s is a normal answer for a large model; with SUPPORT_LLM__TIMEOUT_S=60 it is
    neither cut at the old 10 s default nor sent again."""
    model_server.script(Text("Your order shipped on Monday.", delay_s=11))
    outcome = await acall_model(llm[0], PROMPT, TOOLS)
    assert outcome.reply is not None
    assert outcome.reply.text == "Your order shipped on Monday."
    assert len(model_server.requests) == 1


async def test_a_429_is_retried_after_its_retry_after(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    model_server.script(Status(429, retry_after="1"), Text("Here you go."))
    outcome = await acall_model(llm[0], PROMPT, TOOLS)
    assert outcome.reply is not None
    assert outcome.reply.text == "Here you go."
    first, second = model_server.requests
    assert second.received_at - first.received_at >= 0.95  # waited as the server asked


def test_a_500_is_retried_once_then_answered(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    model_server.script(Status(500), Text("Back again."))
    outcome = call_model(llm[1], PROMPT, TOOLS)
    assert outcome.reply is not None
    assert outcome.reply.text == "Back again."
    assert len(model_server.requests) == 2


def test_a_client_error_is_final(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    model_server.script(Status(400, "context length exceeded"), Text("never asked for"))
    outcome = call_model(llm[1], PROMPT, TOOLS)
    assert outcome.reply is None
    assert outcome.failure == "dependency_error"
    assert len(model_server.requests) == 1


async def test_a_client_timeout_is_not_sent_again(
    model_server: ModelServer,
    make_settings: Callable[..., Settings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server may still be generating: a blind re-send would bill the answer twice."""
    monkeypatch.setenv("SUPPORT_LLM__TIMEOUT_S", "0.5")
    monkeypatch.setenv("SUPPORT_LLM__MODEL", "scripted")
    monkeypatch.setenv("SUPPORT_LLM__BASE_URL", model_server.base_url)
    settings = make_settings()
    with Resilience(settings.resilience) as resilience:
        model = build_chat_model(settings.llm, "scripted")
        invoke = resilience.guard("llm", operation="chat")(model.ainvoke)
        model_server.script(Text("too late", delay_s=2), Text("never asked for"))
        outcome = await acall_model(invoke, PROMPT, TOOLS)
    assert outcome.reply is None
    assert outcome.failure == "timeout"
    assert len(model_server.requests) == 1


async def test_repeated_500s_open_the_breaker_and_later_turns_go_offline_at_once(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    """Five 500s: two calls of two attempts, then a third call whose failure opens the
    breaker. The next ten turns are answered offline without a request to the model."""
    model_server.script(*[Status(500)] * 5)
    outcomes = [await acall_model(llm[0], PROMPT, TOOLS) for _ in range(13)]
    assert len(model_server.requests) == 5
    assert [o.failure for o in outcomes[:2]] == ["dependency_error"] * 2
    assert [o.failure for o in outcomes[2:]] == ["circuit_open"] * 11
    assert all(o.reply is None and o.messages == [] for o in outcomes)
    assert llm[2].breaker_state("llm") == "open"


@pytest.mark.parametrize("streaming", [False, True])
async def test_invalid_tool_arguments_get_one_repair_and_then_an_answer(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience], streaming: bool
) -> None:
    model_server.script(
        ToolCalls([("get_order", '{"order_id": #W1}')]),  # not JSON, nor a JSON prefix
        ToolCalls([("get_order", {"order_id": "#W1"})]),
    )
    invoke = llm[0]
    if streaming:
        model = _streaming_model(model_server)
        invoke = llm[2].guard("llm", operation="chat")(model.ainvoke)
    outcome = await acall_model(invoke, PROMPT, TOOLS)
    assert outcome.repaired
    assert outcome.reply is not None
    assert outcome.reply.tool_calls[0]["args"] == {"order_id": "#W1"}
    bad, error, repaired = outcome.messages
    assert isinstance(bad, AIMessage)
    assert bad.invalid_tool_calls
    assert isinstance(error, ToolMessage)
    payload = json.loads(error.content)["error"]
    assert payload["code"] == "invalid_input"
    assert payload["retryable"] is True
    assert "#W1" not in payload["message"], "the arguments are not echoed"
    # The repair request carried the error back to the model, answering the bad call.
    repair_request = model_server.requests[1].messages
    assert repair_request[-1]["role"] == "tool"
    assert repair_request[-1]["tool_call_id"] == repair_request[-2]["tool_calls"][0]["id"]
    assert repaired is outcome.reply


async def test_output_still_invalid_after_the_repair_means_answer_offline(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    model_server.script(
        ToolCalls([("get_order", "{not json")]), ToolCalls([("refund_everything", {})])
    )
    outcome = await acall_model(llm[0], PROMPT, TOOLS)
    assert outcome.reply is None
    assert outcome.failure == "invalid_output"
    assert outcome.messages == []
    assert len(model_server.requests) == 2


async def test_an_unknown_tool_is_a_structured_error_the_model_corrects(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    model_server.script(
        ToolCalls([("lookup_order", {"order_id": "#W1"})]), Text("Let me check that for you.")
    )
    outcome = await acall_model(llm[0], PROMPT, TOOLS)
    assert outcome.reply is not None
    assert outcome.reply.text == "Let me check that for you."
    error = outcome.messages[1]
    assert isinstance(error, ToolMessage)
    payload = json.loads(error.content)["error"]
    assert payload["code"] == "not_found"
    assert "get_order" in payload["message"]


async def test_an_empty_reply_is_asked_again_and_no_repair_left_means_offline(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    model_server.script(Text(""), Text("Your order is on its way."), Text(""))
    outcome = await acall_model(llm[0], PROMPT, TOOLS)
    assert outcome.reply is not None
    assert outcome.reply.text == "Your order is on its way."
    assert outcome.messages == [outcome.reply]
    no_repair = await acall_model(llm[0], PROMPT, TOOLS, repair=False)
    assert no_repair.reply is None
    assert no_repair.failure == "invalid_output"


@pytest.mark.parametrize(
    ("reply", "usable"),
    [
        (AIMessage("Hello"), True),
        (AIMessage(""), False),
        (AIMessage("", tool_calls=[{"name": "get_order", "args": {}, "id": "c1"}]), True),
        (AIMessage("", tool_calls=[{"name": "drop_table", "args": {}, "id": "c1"}]), False),
    ],
)
def test_problems_judges_replies(reply: BaseMessage, usable: bool) -> None:
    assert (problems(reply, TOOLS) is None) is usable


async def test_arguments_that_are_json_but_not_an_object_mean_answer_offline(
    model_server: ModelServer, llm: tuple[Any, Any, Resilience]
) -> None:
    """langchain-openai cannot build a message from them (its AIMessage validation fails),
    so there is nothing to repair: the turn is answered offline, and not retried."""
    model_server.script(ToolCalls([("get_order", "[1, 2]")]), Text("never asked for"))
    outcome = await acall_model(llm[0], PROMPT, TOOLS)
    assert outcome.reply is None
    assert outcome.failure == "dependency_error"
    assert len(model_server.requests) == 1


@settings(max_examples=200, deadline=None)
@given(
    text=st.text(max_size=20),
    calls=st.lists(
        st.tuples(st.sampled_from(["get_order", "search_knowledge_base", "drop", ""]), st.text()),
        max_size=4,
    ),
)
def test_every_call_of_an_unusable_reply_gets_a_structured_error(
    text: str, calls: list[tuple[str, str]]
) -> None:
    """Whatever the model sends, a reply is usable or every one of its tool calls is
    answered by a structured error that does not quote the arguments back."""
    raw = [
        {"id": f"c{i}", "type": "function", "function": {"name": name, "arguments": args}}
        for i, (name, args) in enumerate(calls)
    ]
    reply = _from_wire(text, raw)
    errors = problems(reply, TOOLS)
    if errors is None:
        assert reply.text.strip() or reply.tool_calls
        assert not reply.invalid_tool_calls
        assert {c["name"] for c in reply.tool_calls} <= TOOLS
        return
    assert len(errors) == len(reply.tool_calls) + len(reply.invalid_tool_calls)
    for error in errors:
        payload = json.loads(error.content)["error"]
        assert set(payload) >= {"code", "message", "retryable"}
        assert payload["retryable"] is True
    for name, args in calls:
        if len(args) > 8:
            # words of the fixed message itself ("arguments") are not quoted data
            blank = _from_wire(
                "", [{"id": "b", "type": "function", "function": {"name": name, "arguments": "[]"}}]
            )
            fixed = [
                json.loads(e.content)["error"]["message"] for e in problems(blank, TOOLS) or []
            ]
            if not any(args in message for message in fixed):
                assert all(args not in json.loads(e.content)["error"]["message"] for e in errors)


def _from_wire(text: str, raw_calls: list[dict[str, Any]]) -> AIMessage:
    """The AIMessage langchain-openai builds from a response carrying these tool calls
    (the same public parsers it uses)."""
    valid, invalid = [], []
    for raw in raw_calls:
        try:
            parsed = parse_tool_call(raw, return_id=True)
        except OutputParserException as exc:
            invalid.append(make_invalid_tool_call(raw, str(exc)))
            continue
        if not isinstance(parsed["args"], dict):
            reject()  # the client itself fails on these (see the test above)
        valid.append(parsed)
    return AIMessage(text, tool_calls=valid, invalid_tool_calls=invalid)
