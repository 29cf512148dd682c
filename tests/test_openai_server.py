"""The scripted model server speaks the wire ``langchain_openai.ChatOpenAI`` expects.

Each reply kind is driven through the real client, so a test that scripts a 429 or a hang
sees what production code would see from vLLM or OpenAI.
"""

from __future__ import annotations

import json

import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.openai_server import Hang, Malformed, Reset, Status, Text, ToolCalls, serve_model


def _model(base_url: str, **kwargs: object) -> ChatOpenAI:
    return ChatOpenAI(
        model="scripted",
        base_url=base_url,
        api_key="test-key",
        max_retries=0,
        timeout=kwargs.pop("timeout", 5),
        **kwargs,
    )


def test_text_reply_and_the_request_is_recorded() -> None:
    with serve_model(Text("Yes, we ship to Canada.")) as server:
        reply = _model(server.base_url).invoke("Do you ship to Canada?")
    assert reply.content == "Yes, we ship to Canada."
    assert len(server.requests) == 1
    assert server.requests[0].messages[-1] == {"role": "user", "content": "Do you ship to Canada?"}
    assert server.requests[0].headers["authorization"] == "Bearer test-key"


async def test_streamed_text_arrives_token_by_token() -> None:
    with serve_model(Text("one two three", chunk_delay_s=0.01)) as server:
        chunks = [c.content async for c in _model(server.base_url).astream("count")]
    assert "".join(chunks) == "one two three"
    assert len([c for c in chunks if c]) == 3
    assert server.requests[0].stream


@pytest.mark.parametrize("streaming", [False, True])
def test_tool_calls_plain_and_streamed(streaming: bool) -> None:
    with serve_model(ToolCalls([("get_order", {"order_id": "#W1"})])) as server:
        model = _model(server.base_url, streaming=streaming)
        reply = model.invoke("where is my order?")
    assert reply.tool_calls[0]["name"] == "get_order"
    assert reply.tool_calls[0]["args"] == {"order_id": "#W1"}


def test_invalid_tool_arguments_reach_the_client_as_invalid_tool_calls() -> None:
    with serve_model(ToolCalls([("get_order", '{"order_id": "#W1"')])) as server:
        reply = _model(server.base_url).invoke("where is my order?")
    assert reply.tool_calls == []
    assert reply.invalid_tool_calls[0]["name"] == "get_order"
    assert reply.invalid_tool_calls[0]["args"] == '{"order_id": "#W1"'


def test_429_carries_retry_after_and_500_is_a_server_error() -> None:
    with serve_model(Status(429, retry_after="1"), Status(500)) as server:
        model = _model(server.base_url)
        with pytest.raises(openai.RateLimitError) as limited:
            model.invoke("hi")
        with pytest.raises(openai.InternalServerError):
            model.invoke("hi")
    assert limited.value.response.headers["retry-after"] == "1"
    assert len(server.requests) == 2


async def test_hang_times_out_on_the_client_and_the_server_still_stops() -> None:
    with serve_model(Hang()) as server, pytest.raises(openai.APITimeoutError):
        await _model(server.base_url, timeout=0.3).ainvoke("hi")
    assert len(server.requests) == 1


def test_malformed_body_and_connection_reset_are_errors_not_replies() -> None:
    with serve_model(Malformed(), Reset()) as server:
        model = _model(server.base_url)
        with pytest.raises(json.JSONDecodeError):
            model.invoke("hi")
        with pytest.raises(openai.APIConnectionError):
            model.invoke("hi")
    assert len(server.requests) == 2


def test_an_exhausted_script_answers_500_unless_a_default_is_given() -> None:
    with serve_model(default=Text("fallback")) as server:
        assert _model(server.base_url).invoke("hi").content == "fallback"
    with serve_model() as server, pytest.raises(openai.InternalServerError):
        _model(server.base_url).invoke("hi")


def test_a_slow_reply_waits_before_answering() -> None:
    with serve_model(Text("late", delay_s=0.3)) as server:
        with pytest.raises(openai.APITimeoutError):
            _model(server.base_url, timeout=0.1).invoke("hi")
        server.script(Text("late", delay_s=0.2))
        assert _model(server.base_url, timeout=5).invoke("hi").content == "late"
    assert len(server.requests) == 2
