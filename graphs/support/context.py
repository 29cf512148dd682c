"""Run-scoped configuration: the ``context_schema`` LangGraph Studio shows for each run.

``tenant_id``, ``user_id`` and ``role`` are *claims*. Under the LangGraph server with auth the
caller's credentials decide who they are, and a claim that differs is refused; a Python
caller or a developer in Studio (``langgraph dev``) names the customer here. Empty means
"not claimed": there is no default customer, and a run without one gets no long-term memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.runtime import Runtime

from tools.runtime import CallerScope, IdentityMismatchError, resolve

EscalationPolicy = Literal["handoff", "ticket_only", "never"]


@dataclass(kw_only=True)
class Context:
    """Per-run knobs; every field has a default so a bare run works."""

    tenant_id: str = field(
        default="",
        metadata={"description": "Tenant of the conversation (empty: your credentials' tenant)."},
    )
    user_id: str = field(
        default="",
        metadata={
            "description": "Customer the conversation is with (empty: your credentials' user, "
            "or nobody: no memories are recalled or kept)."
        },
    )
    role: Literal["", "customer", "agent", "admin"] = field(
        default="",
        metadata={"description": "Caller's role without server auth (empty: customer)."},
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


def caller(runtime: Runtime[Context], default_tenant: str) -> CallerScope:
    """Who this run serves: the server-authenticated user, else the context's claims.

    Raises ``IdentityMismatchError`` when the context claims someone other than the
    authenticated user (``tools.runtime.resolve`` is the one rule).
    """
    server = runtime.server_info
    execution = runtime.execution_info
    return resolve(
        user=server.user if server is not None else None,
        claims=(runtime.context,),
        session_id=execution.thread_id if execution is not None else None,
        default_tenant=default_tenant,
    )


def conversation_owner(who: CallerScope, recorded: Mapping[str, Any] | None) -> CallerScope:
    """Whom the conversation is with, given the caller and the owner the thread recorded.

    A thread belongs to the customer it started with. Support staff of that tenant who
    answer it (resuming a hand-off, say) act for that customer; anyone else is refused.
    """
    if not recorded or (who.tenant_id, who.user_id) == (recorded["tenant_id"], recorded["user_id"]):
        return who
    if who.is_staff and recorded["tenant_id"] == who.tenant_id:
        return CallerScope(recorded["tenant_id"], recorded["user_id"], who.session_id)
    raise IdentityMismatchError("this conversation belongs to another customer")


def customer(
    state: Mapping[str, Any], runtime: Runtime[Context], default_tenant: str
) -> CallerScope:
    """The customer of this turn: ``conversation_owner`` of the caller and the thread."""
    return conversation_owner(caller(runtime, default_tenant), state.get("owner"))


def settings_of(runtime: Runtime[Context]) -> Context:
    """The run's knobs, defaults when the caller sent no context."""
    return runtime.context if isinstance(runtime.context, Context) else Context()
