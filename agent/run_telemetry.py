"""Spans, metrics and log correlation for every graph run, from LangChain's callbacks.

LangGraph reports a run as a tree of callback events: the graph itself (no parent), each
node (a chain whose name is its ``langgraph_node``), each tool call and each chat-model
call. One handler turns that tree into what an operator reads: a span per turn, node, tool
and model call (model spans carry the OpenTelemetry GenAI attributes), latency histograms,
and log correlation ids (thread, run, node, tool; tenant and hashed user from the owner the
guard node resolves) bound while the step runs, so every log line of a turn carries the same run and trace ids. Guarded dependency
calls open their own spans inside the current one (``tools.resilience.guard``).

No customer text is recorded: inputs, outputs and prompts never become attributes.
``graphs.support.graph.build_graph`` attaches it (``with_config(callbacks=...)``) to every
graph it compiles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, LLMResult
from langgraph.errors import GraphBubbleUp
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode

from tools import metrics

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("support_agent.graph")


def user_hash(user_id: str) -> str:
    """A stable pseudonym for log correlation: the same user links up, the id stays out."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:16]


@dataclass
class _Step:
    kind: str
    name: str
    span: Span
    started: float
    ids: dict[str, Any] = field(default_factory=dict)
    ended: bool = False
    turn: _Step | None = None  # the graph run this step belongs to (None: it is the run)


# The step whose code is running. LangChain ends a step from another context than it
# started it in (LangGraph shields the end), so the variable cannot be reset there: readers
# ignore a step that has ended instead.
_current: ContextVar[_Step | None] = ContextVar("support_run_step", default=None)


def correlation_ids() -> dict[str, Any]:
    """Ids of the running turn, node and tool, for every log line written inside them."""
    step = _current.get()
    return dict(step.ids) if step is not None and not step.ended else {}


class RunTelemetry(BaseCallbackHandler):
    """One handler per process; state is keyed by run id, so concurrent runs never mix.

    ``run_inline`` makes LangChain call it in the step's own context (not in a thread or a
    gathered task), which is what lets the span and the log ids it sets at the start be
    seen by the code running inside that step.
    """

    run_inline = True
    raise_error = False

    def __init__(self) -> None:
        self._steps: dict[UUID, _Step] = {}

    # -- graph runs and nodes ----------------------------------------------------------------

    def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = metadata or {}
        name = kwargs.get("name") or ""
        if parent_run_id is None:
            ids = {
                "run_id": str(metadata.get("run_id") or run_id),
                "thread_id": metadata.get("thread_id"),
                "tenant": metadata.get("tenant_id"),
                "user": user_hash(str(metadata["user_id"])) if metadata.get("user_id") else None,
            }
            self._begin(run_id, "turn", name or "graph", {k: v for k, v in ids.items() if v})
        elif name and metadata.get("langgraph_node") == name:
            self._begin(run_id, "node", name, {"node": name}, parent_run_id)

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        step = self._steps.get(run_id)
        if step is None:
            return
        if step.kind == "turn":
            self._end(run_id, _turn_outcome(outputs))
            return
        if step.turn is not None:
            _identify(step.turn, outputs)
        self._end(run_id, "ok")

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id in self._steps:
            interrupted = isinstance(error, GraphBubbleUp)
            self._end(run_id, "interrupted" if interrupted else "error", None, error)

    # -- tools -----------------------------------------------------------------------------------

    def on_tool_start(
        self,
        serialized: dict[str, Any] | None,
        input_str: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        **kwargs: Any,
    ) -> None:
        name = kwargs.get("name") or (serialized or {}).get("name") or "tool"
        self._begin(run_id, "tool", name, {"tool": name}, parent_run_id)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id in self._steps:
            code = _tool_error_code(output)
            self._end(run_id, code or "ok", code)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id in self._steps:
            code = getattr(error, "code", None) or "error"
            self._end(run_id, code, code, error)

    # -- chat models -----------------------------------------------------------------------------

    def on_chat_model_start(
        self,
        serialized: dict[str, Any] | None,
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        metadata: dict[str, Any] | None = None,
        invocation_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        metadata = metadata or {}
        params = invocation_params or {}
        model = str(
            metadata.get("ls_model_name") or params.get("model") or params.get("model_name") or ""
        )
        step = self._begin(run_id, "model", model or "unknown", {}, parent_run_id)
        step.span.update_name(f"chat {model}".strip())
        step.span.set_attributes(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.system": str(metadata.get("ls_provider") or params.get("_type") or ""),
                "gen_ai.request.model": model,
            }
        )
        if metadata.get("ls_temperature") is not None:
            step.span.set_attribute("gen_ai.request.temperature", metadata["ls_temperature"])

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        step = self._steps.get(run_id)
        if step is None:
            return
        usage, finish, response_model = _generation_facts(response)
        if response_model:
            step.span.set_attribute("gen_ai.response.model", response_model)
        if finish:
            step.span.set_attribute("gen_ai.response.finish_reasons", finish)
        for kind in ("input", "output"):
            tokens = usage.get(f"{kind}_tokens")
            if isinstance(tokens, int):
                step.span.set_attribute(f"gen_ai.usage.{kind}_tokens", tokens)
                metrics.MODEL_TOKENS.labels(step.name, kind).inc(tokens)
        self._end(run_id, "ok")

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        if run_id in self._steps:
            self._end(run_id, "error", None, error)

    # -- common ----------------------------------------------------------------------------------

    def _begin(
        self, run_id: UUID, kind: str, name: str, ids: dict[str, Any], parent: UUID | None = None
    ) -> _Step:
        outer = self._steps[parent] if parent in self._steps else _current.get()
        if outer is not None and outer.ended:
            outer = None
        if outer is not None:
            parent_context = trace.set_span_in_context(outer.span)
        elif trace.get_current_span().is_recording():
            parent_context = None  # the caller's own span: the turn becomes its child
        else:
            parent_context = otel_context.Context()  # a new trace, not a finished turn's
        attributes = {**(outer.ids if outer else {}), **ids}
        span = tracer.start_span(
            "turn" if kind == "turn" else f"{kind} {name}",
            context=parent_context,
            attributes={**attributes, "support.step": kind},
        )
        turn = (outer.turn or outer) if outer is not None else None
        step = _Step(kind, name, span, time.perf_counter(), attributes, turn=turn)
        self._steps[run_id] = step
        _current.set(step)
        # The code inside the step (and the guarded dependency calls it makes) sees its
        # span as current; the ended-span check above keeps a stale one from parenting.
        otel_context.attach(trace.set_span_in_context(span))
        return step

    def _end(
        self,
        run_id: UUID,
        outcome: str,
        error_code: str | None = None,
        error: BaseException | None = None,
    ) -> None:
        step = self._steps.pop(run_id)
        seconds = time.perf_counter() - step.started
        _observe(step, outcome, seconds)
        if error is not None and not isinstance(error, GraphBubbleUp):
            step.span.record_exception(error)
        if outcome not in ("ok", "answered", "escalated", "interrupted"):
            step.span.set_status(Status(StatusCode.ERROR, error_code or type(error).__name__))
            if error_code:
                step.span.set_attribute("error.code", error_code)
        level = logging.INFO if step.kind == "turn" else logging.DEBUG
        logger.log(
            level,
            "%s finished",
            step.kind,
            extra={
                **step.ids,
                "trace_id": format(step.span.get_span_context().trace_id, "032x"),
                "outcome": outcome,
                "duration_ms": round(seconds * 1000, 2),
                **({"error_code": error_code} if error_code else {}),
            },
        )
        step.ended = True
        step.span.end()


def _observe(step: _Step, outcome: str, seconds: float) -> None:
    if step.kind == "turn":
        metrics.TURN_SECONDS.labels(outcome).observe(seconds)
    elif step.kind == "node":
        metrics.NODE_SECONDS.labels(step.name, outcome).observe(seconds)
    elif step.kind == "tool":
        metrics.TOOL_SECONDS.labels(step.name, outcome).observe(seconds)
    else:
        metrics.MODEL_SECONDS.labels(step.name, outcome).observe(seconds)


def _identify(turn: _Step, outputs: Any) -> None:
    """The guard node resolves who the conversation is with (from the authenticated caller
    or the run context) and writes it to the state as ``owner``: from then on the turn's
    steps carry the tenant and the hashed user, whoever started the run."""
    owner = outputs.get("owner") if isinstance(outputs, Mapping) else None
    if not isinstance(owner, Mapping) or not owner.get("user_id"):
        return
    ids = {"tenant": str(owner.get("tenant_id") or ""), "user": user_hash(str(owner["user_id"]))}
    turn.ids.update(ids)
    turn.span.set_attributes(ids)


def _turn_outcome(outputs: Any) -> str:
    if isinstance(outputs, Mapping) and (outputs.get("__interrupt__") or outputs.get("escalation")):
        return "escalated"
    return "answered"


def _tool_error_code(output: Any) -> str | None:
    """The ``code`` of a tool's structured error (``ToolMessage(status="error")``)."""
    if not isinstance(output, ToolMessage) or output.status != "error":
        return None
    try:
        payload = json.loads(output.content) if isinstance(output.content, str) else {}
    except ValueError:
        return "error"
    if not isinstance(payload, dict):
        return "error"
    error = payload.get("error")
    nested = error.get("code") if isinstance(error, dict) else None
    return str(nested or payload.get("code") or "error")


def _generation_facts(response: LLMResult) -> tuple[dict[str, Any], list[str], str | None]:
    usage: dict[str, Any] = {}
    finish: list[str] = []
    model: str | None = None
    for generations in response.generations:
        for generation in generations:
            info = generation.generation_info or {}
            if isinstance(generation, ChatGeneration):
                message = generation.message
                usage = dict(getattr(message, "usage_metadata", None) or usage)
                info = {**message.response_metadata, **info}
            if info.get("finish_reason"):
                finish.append(str(info["finish_reason"]))
            model = info.get("model_name") or model
    return usage, finish, model


_handler = RunTelemetry()


def telemetry_callbacks() -> list[BaseCallbackHandler]:
    """The callbacks a graph attaches (``graph.with_config(callbacks=...)``)."""
    return [_handler]
