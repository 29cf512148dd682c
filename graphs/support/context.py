"""Run-scoped configuration: the ``context_schema`` LangGraph Studio shows for each run.

Identity (tenant, user) lives here because the runtime decides it, never the model; the
tools read the same fields (``tools.runtime.caller_scope``). The session is the thread id.
Empty values fall back to the process settings (``agent.settings.Settings``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

EscalationPolicy = Literal["handoff", "ticket_only", "never"]


@dataclass(kw_only=True)
class Context:
    """Per-run knobs; every field has a default so a bare run works."""

    tenant_id: str = field(
        default="",
        metadata={"description": "Tenant of the conversation (empty: settings.tenant_id)."},
    )
    user_id: str = field(
        default="guest",
        metadata={"description": "Customer the memories and CRM lookups belong to."},
    )
    model: str = field(
        default="",
        metadata={
            "description": "Chat model name (empty: settings.llm.model; both empty: the "
            "offline extractive responder)."
        },
    )
    kb_k: int = field(default=4, metadata={"description": "Knowledge-base passages retrieved."})
    recall_k: int = field(default=3, metadata={"description": "Memories recalled per turn."})
    min_kb_score: float = field(
        default=0.4,
        metadata={"description": "Relevance below which a passage is not used to answer."},
    )
    min_memory_score: float = field(
        default=0.25,
        metadata={"description": "Recall score below which a memory is not mentioned."},
    )
    max_message_chars: int = field(
        default=4000, metadata={"description": "Longer customer messages are refused."}
    )
    max_tool_rounds: int = field(
        default=4, metadata={"description": "Model ⇄ tools round trips allowed per turn."}
    )
    escalation_policy: EscalationPolicy = field(
        default="handoff",
        metadata={
            "description": "handoff: ticket + pause for a human reply; ticket_only: ticket "
            "and tell the customer; never: answer as best we can."
        },
    )


_FIELDS = frozenset(f.name for f in fields(Context))


def run_context(runtime: Runtime[Context], config: RunnableConfig) -> Context:
    """The run's context; callers that only set ``configurable`` (older clients) work too."""
    if isinstance(runtime.context, Context):
        return runtime.context
    source: Mapping[str, Any] = (
        runtime.context
        if isinstance(runtime.context, Mapping)
        else (config.get("configurable") or {})
    )
    return Context(**{k: v for k, v in source.items() if k in _FIELDS})


def thread_id(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get("thread_id") or "no-thread")
