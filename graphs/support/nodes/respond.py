"""respond: the answer of the turn, from the chat model with the tools bound, or offline.

The offline responder (``responder.compose_answer``) always composes an answer first: it is
the reply when no model is configured, and the fallback when the model is unavailable
(breaker open, timeout, server errors) or its reply is unusable after one repair attempt
(``model_call``: malformed tool calls, unknown tools, an empty reply, tools asked for past
``max_tool_rounds``); the turn is then marked ``degraded`` with ``llm``, never escalated
for that reason alone.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from langchain_core.messages import AIMessage, AnyMessage, SystemMessage
from langgraph.runtime import Runtime

from graphs.support import prompts
from graphs.support.context import Context, caller, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.facts import Fact, extract_facts
from graphs.support.model_call import acall_model
from graphs.support.responder import compose_answer
from graphs.support.state import State

logger = logging.getLogger(__name__)


async def respond(state: State, runtime: Runtime[Context], *, deps: Dependencies) -> dict[str, Any]:
    knobs = settings_of(runtime)
    unresolved = state.get("unresolved_turns", 0)
    if state.get("intent") == "unavailable":
        dependency = ", ".join(d for d in state.get("degraded", []) if d) or "a dependency"
        reply = prompts.UNAVAILABLE.format(dependency=dependency)
        return {
            "messages": [AIMessage(reply, name="assistant")],
            "unresolved_turns": unresolved + 1,
        }
    answer = compose_answer(
        state["query"],
        state.get("passages", []),
        memories=state.get("memories", []),
        order=state.get("order"),
        order_missing=state.get("order_missing"),
        unavailable=state.get("degraded", []),
        stated=[fact.content for fact in durable_facts(state)],
        min_score=knobs.min_kb_score,
    )
    offline = AIMessage(answer.text if answer.answered else prompts.MODEL_FAILED, name="assistant")
    # a greeting or a thank-you is neither an answered nor an unanswered question
    still = unresolved if answer.small_talk else (0 if answer.answered else unresolved + 1)
    resolved = {"sources": answer.sources, "unresolved_turns": still}
    name = deps.model_name(knobs.model)
    if name is None:
        return {**resolved, "messages": [AIMessage(answer.text, name="assistant")]}
    rounds = state.get("tool_rounds", 0)
    model, offered = deps.model(name), set[str]()
    if rounds < knobs.max_tool_rounds and deps.tools:
        offered = {tool.name for tool in deps.tools}  # what the tools node can run
        with contextlib.suppress(NotImplementedError):  # a model without tool calling
            model = model.bind_tools(list(deps.tools))
    who = caller(runtime, deps.services.settings.tenant_id)
    outcome = await acall_model(
        lambda messages: deps.call(who, "llm", model.ainvoke, messages),
        prompt(state),
        offered,
        repair=rounds < knobs.max_tool_rounds,
    )
    if outcome.reply is None:
        logger.error(
            "chat model unavailable or its reply unusable (%s); answering offline", outcome.failure
        )
        return {**resolved, "messages": [offline], "degraded": [*state.get("degraded", []), "llm"]}
    reply = outcome.reply
    rounds += (1 if outcome.repaired else 0) + (1 if reply.tool_calls else 0)
    return {**resolved, "messages": outcome.messages, "tool_rounds": rounds}


def prompt(state: State) -> list[AnyMessage]:
    """The system prompt with the turn's reference data, then the conversation."""
    data = prompts.render_data(
        state.get("passages", []), state.get("memories", []), state.get("order")
    )
    flagged = prompts.FLAGGED_NOTE if flagged_message(state) else ""
    return [
        SystemMessage(prompts.SYSTEM_PROMPT.format(data=data, flagged=flagged)),
        *state["messages"],
    ]


def durable_facts(state: State) -> list[Fact]:
    """The facts of the message worth keeping: none from a flagged message (memory
    poisoning outlives the turn), and never an order number we could not find (a typo, or
    someone else's)."""
    if flagged_message(state):
        return []
    missing = (state.get("order_missing") or "").upper()
    facts = extract_facts(state["query"])
    return [f for f in facts if not missing or missing not in f.content.upper()]


def flagged_message(state: State) -> bool:
    return any(flag.startswith("message:") for flag in state.get("flags", []))


def route_after_respond(state: State) -> str:
    last = state["messages"][-1]
    return "tools" if isinstance(last, AIMessage) and last.tool_calls else "remember"
