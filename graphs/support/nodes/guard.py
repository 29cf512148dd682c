"""guard: resolve the caller, clean and bound the message, apply the session rate limit.

It starts every turn, so it also resets the per-turn fields and records the conversation's
owner in the state (``owner``), which our checkpointers copy into checkpoint metadata: that
is how erasure finds a customer's threads even when the owner was only in the run context.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime

from graphs.support import prompts
from graphs.support.context import Context, caller, conversation_owner, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.safety import injection_markers
from graphs.support.state import State
from storage.text import clean_text
from tools.errors import RateLimitedError, ToolError

logger = logging.getLogger(__name__)

PER_TURN: dict[str, Any] = {
    "query_embedding": None,
    "flags": [],
    "degraded": [],
    "signals": [],
    "order_id": None,
    "memories": [],
    "passages": [],
    "order": None,
    "order_missing": None,
    "sources": [],
    "remembered": [],
    "tool_rounds": 0,
}


async def guard(state: State, runtime: Runtime[Context], *, deps: Dependencies) -> dict[str, Any]:
    who = caller(runtime, deps.services.settings.tenant_id)
    subject = conversation_owner(who, state.get("owner"))
    knobs = settings_of(runtime)
    last = state["messages"][-1] if state.get("messages") else None
    owner = (
        {"tenant_id": subject.tenant_id, "user_id": subject.user_id} if subject.user_id else None
    )
    reset = {**PER_TURN, "turn_id": getattr(last, "id", None) or "", "query": "", "owner": owner}
    if not isinstance(last, HumanMessage):
        return _reject(reset, "empty")
    text = clean_text(last.text)
    if not text:
        only_media = isinstance(last.content, list) and bool(last.content) and not last.text
        return _reject(reset, "not_text" if only_media else "empty")
    if len(text) > knobs.max_message_chars:
        return _reject(reset, "too_long", length=len(text), limit=knobs.max_message_chars)
    try:
        await deps.call(who, "conversation", _admit, retry=False)
    except RateLimitedError as exc:
        return _reject(reset, "rate_limited", retry_after=int(exc.retry_after_s or 1))
    except ToolError as exc:
        logger.warning("session rate limit unavailable (%s); turn admitted", exc.code)
    flags = [f"message:{marker}" for marker in injection_markers(text)]
    return {**reset, "query": text, "flags": flags, "intent": "question"}


async def _admit() -> None:
    """The no-op a turn passes through so the session rate limit applies to it."""


def _reject(reset: dict[str, Any], reason: str, **values: Any) -> dict[str, Any]:
    reply = prompts.REJECTED[reason].format(**values)
    return {
        **reset,
        "intent": "rejected",
        "flags": [f"rejected:{reason}"],
        "messages": [AIMessage(reply, name="guard")],
    }


def route_after_guard(state: State) -> str:
    return "__end__" if state.get("intent") == "rejected" else "recall"
