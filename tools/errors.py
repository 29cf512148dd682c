"""The typed errors every tool and the resilience decorator produce.

They subclass ``ToolException`` so a ``StructuredTool`` built with
``handle_tool_error=tool_error_handler`` turns them into a ``ToolMessage(status="error")``
whose content is a small JSON object a model can act on (``code``, ``retryable``,
``retry_after_s``) instead of a stack trace. Messages are written for the model and the
operator alike: they never carry input values, secrets or personal data.
"""

from __future__ import annotations

import json
import math
from typing import Any, ClassVar

from langchain_core.tools import ToolException
from pybreaker import CircuitBreakerError
from pydantic import ValidationError
from pydantic.v1 import ValidationError as ValidationErrorV1


class ToolError(ToolException):
    """Base of the hierarchy; ``code`` is stable and machine-readable."""

    default_code: ClassVar[str] = "tool_error"
    default_retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        retryable: bool | None = None,
        retry_after_s: float | None = None,
        dependency: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.retryable = self.default_retryable if retryable is None else retryable
        self.retry_after_s = (
            None
            if retry_after_s is None or not math.isfinite(retry_after_s)
            else round(max(retry_after_s, 0.0), 3)
        )
        self.dependency = dependency

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "retryable": self.retryable,
            "retry_after_s": self.retry_after_s,
            "dependency": self.dependency,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructor arguments: rebuild through a helper so errors cross
        # process boundaries (multiprocessing, LangGraph's remote runs) intact.
        return (_rebuild, (type(self), self.message, self.to_dict()))


def _rebuild(cls: type[ToolError], message: str, fields: dict[str, Any]) -> ToolError:
    return cls(
        message,
        code=fields["code"],
        retryable=fields["retryable"],
        retry_after_s=fields["retry_after_s"],
        dependency=fields["dependency"],
    )


class CallerError(ToolError):
    """The request was wrong, not the dependency: it never counts against a breaker."""


class InvalidInputError(CallerError):
    default_code = "invalid_input"


class NotFoundError(CallerError):
    default_code = "not_found"


class NotAuthorizedError(CallerError):
    default_code = "not_authorized"


class DependencyTimeoutError(ToolError):
    default_code = "timeout"
    default_retryable = True


class CircuitOpenError(ToolError, CircuitBreakerError):
    """Also a pybreaker ``CircuitBreakerError``, so code written for pybreaker catches it."""

    default_code = "circuit_open"
    default_retryable = True


class RateLimitedError(ToolError):
    default_code = "rate_limited"
    default_retryable = True


class BulkheadFullError(ToolError):
    default_code = "bulkhead_full"
    default_retryable = True


class DependencyError(ToolError):
    """A dependency failed; ``retryable`` says whether the cause is transient."""

    default_code = "dependency_error"


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The structured form of any tool failure (plain ToolExceptions included)."""
    if isinstance(exc, ToolError):
        return exc.to_dict()
    message = str(exc.args[0]) if exc.args else "tool execution error"
    return {
        "code": ToolError.default_code,
        "message": message,
        "retryable": False,
        "retry_after_s": None,
        "dependency": None,
    }


def failure_content(exc: BaseException) -> str:
    """What a model sees for a tool call that raised: the structured error of a
    ``ToolError``, the type alone of anything else (its text may carry SQL, URLs or data)."""
    if isinstance(exc, ToolError):
        payload = error_payload(exc)
    else:
        payload = ToolError(f"the tool failed unexpectedly ({type(exc).__name__})").to_dict()
    return json.dumps({"error": payload}, ensure_ascii=False)


def tool_error_handler(exc: ToolException) -> str:
    """``handle_tool_error`` for StructuredTools: the JSON payload of the error."""
    return json.dumps({"error": error_payload(exc)}, ensure_ascii=False)


def validation_error_handler(exc: ValidationError | ValidationErrorV1) -> str:
    """``handle_validation_error`` for StructuredTools: ``invalid_input`` with field paths.

    Input values are left out on purpose: they may hold personal data or be huge.
    """
    if isinstance(exc, ValidationError):
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(input)", "problem": err["msg"]}
            for err in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
    else:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]) or "(input)", "problem": err["msg"]}
            for err in exc.errors()
        ]
    summary = "; ".join(f"{p['field']}: {p['problem']}" for p in problems)
    error = InvalidInputError(f"invalid tool arguments: {summary}")
    payload = error.to_dict()
    payload["fields"] = problems
    return json.dumps({"error": payload}, ensure_ascii=False)
