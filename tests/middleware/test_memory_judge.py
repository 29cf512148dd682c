"""MemoryMiddleware with a judge: the README's ``build_agent`` gives the agent's model the
correction judge, so a move the store's rules miss is superseded there as in our graph."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.services import Services
from graphs.middleware_agent import build_agent

from .conftest import ScriptedModel, call, scripted


async def _move(services: Services, model: ScriptedModel, user: str) -> dict[str, str]:
    agent = build_agent(services, model, checkpointer=InMemorySaver())
    for thread, text in (
        ("before", "Please remember that I live in Seattle."),
        ("after", "Please note that I now live in Portland."),
    ):
        await agent.ainvoke(
            {"messages": [("user", text)]},
            {"configurable": {"thread_id": f"{user}-{thread}"}},
            context={"user_id": user},
        )
    exported = await services.memory.aexport(services.settings.tenant_id, user)
    return {m["content"]: m["state"] for m in exported["memories"]}


async def test_the_agents_model_judges_a_move_the_rules_miss(services: Services, user: str) -> None:
    model = scripted(
        AIMessage("Noted."),
        AIMessage("Noted."),
        call("OutdatedNotes", {"outdated": [1]}),
    )
    states = await _move(services, model, user)

    assert states == {"I live in Seattle": "superseded", "I now live in Portland": "live"}
    asked = model.seen[-1][-1].text
    assert "<fact>\nI now live in Portland\n</fact>" in asked
    assert "1. I live in Seattle" in asked


async def test_an_unusable_judgement_leaves_the_rules_to_decide(
    services: Services, user: str
) -> None:
    model = scripted(AIMessage("Noted."), AIMessage("Noted."), AIMessage("1"))
    states = await _move(services, model, user)

    assert len(model.seen) == 3, "the judge was asked"
    assert states == {"I live in Seattle": "live", "I now live in Portland": "live"}
