"""The structured errors a model sees when a tool fails."""

from __future__ import annotations

import json
import pickle

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, Field

from tools.errors import (
    BulkheadFullError,
    CircuitOpenError,
    DependencyError,
    DependencyTimeoutError,
    InvalidInputError,
    NotFoundError,
    RateLimitedError,
    ToolError,
    tool_error_handler,
    validation_error_handler,
)


class _Args(BaseModel):
    customer_id: str = Field(max_length=8, pattern=r"^[a-z0-9]+$")


def _make_tool(exc: Exception) -> StructuredTool:
    def lookup(customer_id: str) -> str:
        raise exc

    return StructuredTool.from_function(
        lookup,
        name="lookup",
        description="Look a customer up.",
        args_schema=_Args,
        handle_tool_error=tool_error_handler,
        handle_validation_error=validation_error_handler,
    )


def _call(tool: StructuredTool, args: dict) -> ToolMessage:
    return tool.invoke({"type": "tool_call", "name": "lookup", "id": "call-1", "args": args})


@pytest.mark.parametrize(
    ("error", "code", "retryable"),
    [
        (InvalidInputError("bad"), "invalid_input", False),
        (NotFoundError("none"), "not_found", False),
        (DependencyTimeoutError("slow", dependency="crm"), "timeout", True),
        (CircuitOpenError("open", retry_after_s=2.5, dependency="crm"), "circuit_open", True),
        (RateLimitedError("slow down", retry_after_s=0.25), "rate_limited", True),
        (BulkheadFullError("busy"), "bulkhead_full", True),
        (DependencyError("boom", retryable=False), "dependency_error", False),
        (DependencyError("reset", retryable=True), "dependency_error", True),
    ],
)
def test_tool_failure_becomes_an_error_tool_message(
    error: ToolError, code: str, retryable: bool
) -> None:
    message = _call(_make_tool(error), {"customer_id": "c1"})
    assert message.status == "error"
    payload = json.loads(message.content)["error"]
    assert payload["code"] == code
    assert payload["retryable"] is retryable
    assert payload["message"] == error.message
    assert payload == error.to_dict()


def test_retry_after_and_dependency_are_reported() -> None:
    error = CircuitOpenError("crm is failing", retry_after_s=1.23456, dependency="crm")
    assert error.to_dict() == {
        "code": "circuit_open",
        "message": "crm is failing",
        "retryable": True,
        "retry_after_s": 1.235,
        "dependency": "crm",
    }


def test_plain_tool_exception_gets_a_generic_code() -> None:
    message = _call(_make_tool(ToolException("no such order")), {"customer_id": "c1"})
    assert message.status == "error"
    assert json.loads(message.content)["error"]["code"] == "tool_error"


def test_validation_error_is_invalid_input_without_echoing_the_value() -> None:
    secret_value = "SECRET-EMAIL@example.com"
    message = _call(_make_tool(NotFoundError("x")), {"customer_id": secret_value})
    assert message.status == "error"
    payload = json.loads(message.content)["error"]
    assert payload["code"] == "invalid_input"
    assert payload["fields"][0]["field"] == "customer_id"
    assert secret_value not in message.content


def test_errors_survive_pickling_for_multiprocess_use() -> None:
    error = RateLimitedError("slow down", retry_after_s=0.5, dependency="crm")
    clone = pickle.loads(pickle.dumps(error))
    assert type(clone) is RateLimitedError
    assert clone.to_dict() == error.to_dict()
