"""``ResilienceMiddleware``: model and tool calls through the guard our graph uses.

Each model call, and each call of a tool named in ``tools`` (tool name → dependency), runs
through ``Resilience.guard`` (deadline, rate limit, retry, breaker, bulkhead), attributed to
the caller the runtime names (``tools.runtime``). The pack's own tools guard their
dependencies themselves, so they are left out of ``tools``: a second guard around them would
add a second deadline and rate limit, not resilience.

What comes out is never an exception a retry middleware would catch again:

- a failed tool call becomes a ``ToolMessage(status="error")`` whose content is the
  structured error (``code``, ``message``, ``retryable``, ``retry_after_s``); an
  unexpected exception is reported by its type alone (its text may carry data);
- a failed model call becomes an ``AIMessage`` with ``unavailable_reply`` for the customer
  and the structured error under ``response_metadata["error"]``.

So LangChain's ``ToolRetryMiddleware`` / ``ModelRetryMiddleware`` placed before this one
(outside it) never multiply the guard's attempts. Placed after it (inside), one that re-raises
(``on_failure="error"``) would have each of its exhausted loops retried by the guard, and one
that returns a message would hide the failure from the breaker: one retry layer per call. LangGraph
control flow (``interrupt()``, ``Command`` bubbling: ``GraphBubbleUp``) passes through
untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping

from langchain.agents.middleware import (
    AgentMiddleware,
    ModelCallResult,
    ModelRequest,
    ModelResponse,
    ToolCallRequest,
)
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.config import get_config
from langgraph.errors import GraphBubbleUp
from langgraph.types import Command

from tools.errors import ToolError, error_payload, failure_content
from tools.resilience import Resilience
from tools.runtime import acting_as_if_known

logger = logging.getLogger(__name__)

UNAVAILABLE_REPLY = (
    "I'm sorry, I can't answer right now because one of our systems is not responding. "
    "Please try again in a few minutes."
)


class ResilienceMiddleware(AgentMiddleware):
    """Guards model calls as dependency ``model`` and the listed tools as theirs."""

    def __init__(
        self,
        resilience: Resilience,
        *,
        model: str | None = "llm",
        tools: Mapping[str, str] | None = None,
        default_tenant: str | None = None,
        unavailable_reply: str = UNAVAILABLE_REPLY,
    ) -> None:
        super().__init__()
        self.resilience = resilience
        self.model_dependency = model
        self.tool_dependencies = dict(tools or {})
        self.default_tenant = default_tenant
        self.unavailable_reply = unavailable_reply

    # Tools.

    def _tool_failed(self, request: ToolCallRequest, exc: Exception) -> ToolMessage:
        name = request.tool_call["name"]
        if isinstance(exc, ToolError):
            logger.warning("tool %s failed (%s)", name, exc.code)
        else:
            logger.warning("tool %s raised %s", name, type(exc).__name__)
        return ToolMessage(
            failure_content(exc), tool_call_id=request.tool_call["id"], name=name, status="error"
        )

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command],
    ) -> ToolMessage | Command:
        name = request.tool_call["name"]
        dependency = self.tool_dependencies.get(name)
        try:
            with acting_as_if_known(request.runtime.config, default_tenant=self.default_tenant):
                if dependency is None:
                    return handler(request)
                guarded = self.resilience.guard(dependency, operation=name)(handler)
                return guarded(request)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._tool_failed(request, exc)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command]],
    ) -> ToolMessage | Command:
        name = request.tool_call["name"]
        dependency = self.tool_dependencies.get(name)

        async def call(request: ToolCallRequest) -> ToolMessage | Command:
            return await handler(request)

        try:
            with acting_as_if_known(request.runtime.config, default_tenant=self.default_tenant):
                if dependency is None:
                    return await call(request)
                return await self.resilience.guard(dependency, operation=name)(call)(request)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._tool_failed(request, exc)

    # The model.

    def _model_failed(self, exc: Exception) -> AIMessage:
        payload = error_payload(exc) if isinstance(exc, ToolError) else None
        if payload is None:
            payload = ToolError(f"the model call failed ({type(exc).__name__})").to_dict()
        logger.error("chat model failed (%s)", payload["code"])
        return AIMessage(
            self.unavailable_reply, name="assistant", response_metadata={"error": payload}
        )

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> ModelCallResult:
        if self.model_dependency is None:
            return handler(request)
        try:
            with acting_as_if_known(get_config(), default_tenant=self.default_tenant):
                guarded = self.resilience.guard(self.model_dependency, operation="model_call")
                return guarded(handler)(request)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._model_failed(exc)

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> ModelCallResult:
        if self.model_dependency is None:
            return await handler(request)

        async def call(request: ModelRequest) -> ModelResponse:
            return await handler(request)

        try:
            with acting_as_if_known(get_config(), default_tenant=self.default_tenant):
                guarded = self.resilience.guard(self.model_dependency, operation="model_call")
                return await guarded(call)(request)
        except GraphBubbleUp:
            raise
        except Exception as exc:
            return self._model_failed(exc)
