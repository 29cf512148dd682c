"""remember: store the durable facts the customer stated this turn (``durable_facts``).

Only a known customer's facts are kept: a run without one keeps nothing long-term. A fact
that corrects older ones (a new phone number, address, size, contact preference) supersedes
them in the store, and the turn ends with a short confirmation of the new value
(``facts.correction_note``), so the customer sees that the change was taken.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from graphs.support.context import Context, customer
from graphs.support.dependencies import Dependencies
from graphs.support.facts import correction_note
from graphs.support.nodes.respond import durable_facts
from graphs.support.state import State
from storage.memory import Scope
from tools.errors import ToolError

logger = logging.getLogger(__name__)


async def remember(
    state: State, runtime: Runtime[Context], *, deps: Dependencies
) -> dict[str, Any]:
    who = customer(state, runtime, deps.services.settings.tenant_id)
    if who.user_id is None:
        return {"remembered": []}
    facts = durable_facts(state)
    scope = Scope(who.tenant_id, who.user_id)
    remembered: list[dict[str, Any]] = []
    corrections: list[str] = []
    for fact in facts:
        try:
            result = await deps.call(
                who,
                "memory",
                deps.services.memory.aremember,
                scope,
                fact.content,
                content_type=fact.content_type,
                importance=fact.importance,
                metadata={"source": "conversation", "thread": who.session_id or ""},
            )
        except ToolError as exc:
            logger.warning("remember failed (%s)", exc.code)
            return {"remembered": remembered, "degraded": [*state.get("degraded", []), "memory"]}
        remembered.append(
            {
                "content": fact.content,
                "content_type": fact.content_type,
                "memory_id": result.memory.id,
                "deduped": result.deduped,
                "superseded": [old.id for old in result.superseded],
            }
        )
        if result.superseded:
            corrections.append(fact.content)
    if not corrections:
        return {"remembered": remembered}
    note = AIMessage(correction_note(corrections), name="assistant")
    return {"remembered": remembered, "messages": [note]}
