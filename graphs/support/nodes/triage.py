"""triage: is this a question, an order lookup, a request to forget something about the
customer (``facts.forget_request``), or a conversation for a person?

Escalation signals come from ``tools.escalation.detector``. An open breaker on the
dependency the turn needs (the knowledge base, or the CRM for an order) makes the turn
"unavailable". The chat model is not such a dependency: without it the offline responder
answers, so an outage of the model never sends conversations to a human by itself.
When a chat model is configured it may overrule a borderline signal (a typo-folded request,
a bare "agent", swearing); without one, or when it fails, the detector decides.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from langgraph.runtime import Runtime

from graphs.support.context import Context, caller, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.facts import ORDER_ID, forget_request
from graphs.support.state import State
from tools.escalation.confirm import aconfirm_signals
from tools.escalation.detector import detector_for


async def triage(state: State, runtime: Runtime[Context], *, deps: Dependencies) -> dict[str, Any]:
    services, query = deps.services, state["query"]
    order = ORDER_ID.search(query)
    critical = "crm" if order is not None else "knowledge_base"
    needed = sorted({"knowledge_base", critical})
    states = {dep: services.resilience.breaker_state(dep) for dep in needed}
    signals = detector_for(services.settings.escalation).detect(
        query,
        state["messages"][:-1],
        breaker_states=states,
        failed_turns=state.get("unresolved_turns", 0),
    )
    name = deps.model_name(settings_of(runtime).model)
    if name is not None and any(signal.borderline for signal in signals):
        model, who = deps.model(name), caller(runtime, services.settings.tenant_id)

        async def ask(messages: list[Any]) -> Any:
            return await deps.call(who, "llm", model.ainvoke, messages)

        signals = await aconfirm_signals(ask, query, signals)
    unavailable = [dep for dep, breaker in states.items() if breaker == "open"]
    if signals and settings_of(runtime).escalation_policy != "never":
        intent = "escalate"
    elif forget_request(query) is not None:
        intent = "forget"
    elif critical in unavailable:
        intent = "unavailable"
    else:
        intent = "order" if order is not None else "question"
    return {
        "intent": intent,
        "signals": [asdict(signal) for signal in signals],
        "order_id": order.group(0).upper() if order else None,
        "degraded": [*state.get("degraded", []), *unavailable],
    }


def route_after_triage(state: State) -> str:
    intent = state.get("intent")
    if intent == "escalate":
        return "escalate"
    if intent == "unavailable":
        return "respond"
    if intent == "forget":
        return "forget"
    return "retrieve"
