"""remember: store the durable facts the customer stated this turn (``durable_facts``).

Only a known customer's facts are kept: a run without one keeps nothing long-term. A fact
that corrects older ones (a new phone number, address, size, contact preference) supersedes
them in the store, and the turn ends with a short confirmation of the new value
(``facts.correction_note``), so the customer sees that the change was taken.

The store's rules find those corrections on their own. With a chat model configured, the
correction judge (``tools.correction_judge``) is asked first, once per fact and outside the
store's lock, about the few close memories the rules may miss; the ids it picks are passed
as ``supersedes``. Offline, or when the model already failed this turn (``degraded``: a
second wait for it would only delay the end of the turn), the rules decide alone, and any
failure of the judge leaves them to.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime

from graphs.support.context import Context, customer, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.facts import correction_note
from graphs.support.nodes.respond import durable_facts
from graphs.support.state import State
from storage.memory import Scope
from tools.correction_judge import CorrectionJudge, verdicts
from tools.errors import ToolError
from tools.runtime import CallerScope
from tools.stated_facts import remember_stated

logger = logging.getLogger(__name__)


def correction_judge(
    state: State, runtime: Runtime[Context], deps: Dependencies, who: CallerScope, scope: Scope
) -> CorrectionJudge | None:
    """The judge over this run's chat model, or None (offline, or the model failed)."""
    name = deps.model_name(settings_of(runtime).model)
    if name is None or "llm" in state.get("degraded", []):
        return None
    asked = verdicts(deps.model(name))
    if asked is None:
        return None
    return CorrectionJudge(
        neighbours=functools.partial(
            deps.call, who, "memory", deps.services.memory.aneighbours, scope
        ),
        ask=functools.partial(deps.call, who, "llm", asked.ainvoke),
    )


async def remember(
    state: State, runtime: Runtime[Context], *, deps: Dependencies
) -> dict[str, Any]:
    who = customer(state, runtime, deps.services.settings.tenant_id)
    if who.user_id is None:
        return {"remembered": []}
    facts = durable_facts(state)
    scope = Scope(who.tenant_id, who.user_id)
    judge = correction_judge(state, runtime, deps, who, scope) if facts else None
    remembered: list[dict[str, Any]] = []
    corrections: list[str] = []
    remember = functools.partial(deps.call, who, "memory", deps.services.memory.aremember)
    for fact in facts:
        try:
            result = await remember_stated(
                fact, scope, remember=remember, judge=judge, thread=who.session_id
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
