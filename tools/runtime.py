"""Who is calling: tenant, user and session come from the runtime, never from model arguments.

A model can be talked into writing any ``user_id`` into a tool call, so tools never put
identity in their ``args_schema``. Instead the tool function takes a ``config:
RunnableConfig`` parameter (LangChain injects it and hides it from the model) and calls
``caller_scope(config)``. The values are read, first hit wins, from:

1. the LangGraph runtime context (``graph.invoke(..., context=...)``; a dataclass, a
   Pydantic model or a dict with ``tenant_id`` / ``user_id`` / ``session_id``);
2. ``config["configurable"]``: ``tenant_id``, ``user_id`` (or ``langgraph_auth_user_id``,
   set by the LangGraph server's auth hook), ``session_id`` (or ``thread_id``);
3. ``default_tenant`` for the tenant (the settings' ``tenant_id``, for single-tenant setups).

This works the same under ``ToolNode``, in a developer's own loop (``tool.invoke(args,
config={"configurable": {...}})``) and with ``ToolRuntime``-free tools.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig

from tools.errors import ToolError

_RUNTIME_KEY = "__pregel_runtime"
_ID = re.compile(r"^[A-Za-z0-9_.:@%+=-]{1,128}$")
_ALIASES: dict[str, tuple[str, ...]] = {
    "tenant_id": ("tenant_id",),
    "user_id": ("user_id", "langgraph_auth_user_id"),
    "session_id": ("session_id", "thread_id"),
}


class MissingScopeError(ToolError):
    """The runtime did not say who is calling; a deployment error, not the model's."""

    default_code = "missing_scope"


@dataclass(frozen=True)
class CallerScope:
    tenant_id: str
    user_id: str | None = None
    session_id: str | None = None

    def require_user(self) -> str:
        if self.user_id is None:
            raise MissingScopeError(
                "no user in the runtime: pass user_id in the LangGraph context "
                "or in config['configurable']"
            )
        return self.user_id


def _lookup(source: Any, name: str) -> Any:
    if source is None:
        return None
    if isinstance(source, Mapping):
        return source.get(name)
    return getattr(source, name, None)


def _first(sources: Sequence[Any], field: str) -> str | None:
    for source in sources:
        for name in _ALIASES[field]:
            value = _lookup(source, name)
            if value is None or value == "":
                continue
            text = str(value)
            if not _ID.fullmatch(text):
                raise MissingScopeError(
                    f"runtime {field} is malformed (1-128 of A-Z a-z 0-9 _ . : @ % + = -)"
                )
            return text
    return None


def _sources(config: RunnableConfig | None) -> tuple[Any, Mapping[str, Any]]:
    configurable: Mapping[str, Any] = (config or {}).get("configurable") or {}
    runtime = configurable.get(_RUNTIME_KEY)
    return getattr(runtime, "context", None), configurable


def caller_scope(
    config: RunnableConfig | None, *, default_tenant: str | None = None
) -> CallerScope:
    """The caller's scope; raises ``MissingScopeError`` when no tenant can be found."""
    context, configurable = _sources(config)
    sources = (context, configurable)
    tenant = _first(sources, "tenant_id") or default_tenant
    if tenant is None:
        raise MissingScopeError(
            "no tenant in the runtime: pass tenant_id in the LangGraph context "
            "or in config['configurable']"
        )
    return CallerScope(
        tenant_id=tenant,
        user_id=_first(sources, "user_id"),
        session_id=_first(sources, "session_id"),
    )


def runtime_value(config: RunnableConfig | None, name: str) -> Any:
    """A value the runtime passed beside the scope (context first, then configurable)."""
    for source in _sources(config):
        value = _lookup(source, name)
        if value is not None and value != "":
            return value
    return None


def precomputed_embedding(config: RunnableConfig | None, text: str) -> list[float] | None:
    """The vector the graph already computed for ``text`` this turn, if any.

    The graph embeds the user's message once and puts ``{"text": ..., "vector": [...]}``
    under ``turn_embedding`` (context or configurable); a tool whose query is that same
    text reuses it instead of embedding again.
    """
    turn = runtime_value(config, "turn_embedding")
    if turn is not None and _lookup(turn, "text") == text:
        vector = _lookup(turn, "vector")
        if vector is not None:
            return [float(x) for x in vector]
    return None
