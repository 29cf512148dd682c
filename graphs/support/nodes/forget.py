"""forget: the customer asked us to forget something ("please forget my phone number").

``facts.forget_request`` says what the request is about; the memory store forgets every
current memory of the customer that matches, and the reply says how many were forgotten
(never their text: the customer asked for it to be gone). A run without a known customer
has no memories to forget.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from graphs.support import prompts
from graphs.support.context import Context, customer
from graphs.support.dependencies import Dependencies
from graphs.support.facts import forget_request, forgot_note
from graphs.support.state import State
from storage.memory import Scope
from tools.errors import ToolError

logger = logging.getLogger(__name__)


async def forget(state: State, runtime: Runtime[Context], *, deps: Dependencies) -> dict[str, Any]:
    request = forget_request(state["query"])
    assert request is not None, "triage routes here only for a forget request"
    who = customer(state, runtime, deps.services.settings.tenant_id)
    if who.user_id is None:
        return {"messages": [AIMessage(forgot_note([], request), name="assistant")]}
    try:
        forgotten = await deps.call(
            who,
            "memory",
            deps.services.memory.aforget_matching,
            Scope(who.tenant_id, who.user_id),
            request.matches,
        )
    except ToolError as exc:
        logger.warning("forget failed (%s)", exc.code)
        reply = prompts.UNAVAILABLE.format(dependency="memory")
        return {
            "messages": [AIMessage(reply, name="assistant")],
            "degraded": [*state.get("degraded", []), "memory"],
        }
    reply = forgot_note([memory.content for memory in forgotten], request)
    return {"messages": [AIMessage(reply, name="assistant")]}
