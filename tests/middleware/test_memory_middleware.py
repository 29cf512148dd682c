"""MemoryMiddleware's budget and relevance gate, through ``create_agent``."""

from __future__ import annotations

from langchain.agents import create_agent
from langchain_core.messages import AIMessage

from agent.services import Services
from graphs.middleware_agent import durable_facts
from storage.memory import Scope
from tools.middleware import MemoryMiddleware
from tools.middleware.memory import budgeted

from .conftest import scripted

FACTS = (
    ("Preference: I prefer to be contacted by email only.", "preference"),
    ("Email address: jane.doe@example.com", "identifier"),
)


async def _agent_prompt(services: Services, user: str, **knobs: float) -> str:
    tenant = services.settings.tenant_id
    for fact, kind in FACTS:
        await services.memory.aremember(
            Scope(tenant, user), fact, content_type=kind, importance=0.8
        )
    model = scripted(AIMessage("ok"))
    memory = MemoryMiddleware(
        services.memory,
        services.resilience,
        extract=durable_facts,
        default_tenant=tenant,
        **knobs,  # type: ignore[arg-type]
    )
    agent = create_agent(model, tools=[], system_prompt="Be kind.", middleware=[memory])
    await agent.ainvoke(
        {"messages": [("user", "Can you contact me by email instead of calling?")]},
        context={"user_id": user},
    )
    return model.seen[0][0].text


async def test_relevant_memories_within_budget_reach_the_prompt(
    services: Services, user: str
) -> None:
    prompt = await _agent_prompt(services, user)
    assert prompt.startswith("Be kind.")
    assert all(fact in prompt for fact, _ in FACTS)


async def test_the_budget_and_the_relevance_gate_hold_memories_back(
    services: Services, user: str
) -> None:
    tight = await _agent_prompt(services, user, max_chars=len(FACTS[0][0]) + 20)
    assert sum(fact in tight for fact, _ in FACTS) == 1
    gated = await _agent_prompt(services, f"{user}-2", min_score=1.01)
    assert gated == "Be kind."


def test_budget_keeps_the_best_memories_that_fit() -> None:
    assert budgeted(["aaaa", "bb", "c"], 6) == ["aaaa", "bb"]
    assert budgeted(["aaaa", "bb"], 3) == []
