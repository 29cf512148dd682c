"""The pack inside an ordinary LangChain v1 ``create_agent``: the README's example.

A team that already builds its agent with ``create_agent`` keeps it, and adds the pack's
tools and middleware::

    agent = build_agent(services, ChatOpenAI(model="gpt-4o-mini"), checkpointer=saver)
    await agent.ainvoke({"messages": [("user", "...")]},
                        {"configurable": {"thread_id": "t-1"}},
                        context={"tenant_id": "acme", "user_id": "c-42"})

The middleware order is the point of the example:

1. ``ResilienceMiddleware`` outermost: model calls (and your own tools, named in
   ``tool_dependencies``) through the guard; failures come back as messages;
2. ``EscalationMiddleware``: ``escalate_to_human`` pauses for a person with the ticket;
3. LangChain's ``PIIMiddleware`` redacting e-mail addresses in the customer's message in
   the state, *before* ...
4. ``MemoryMiddleware`` remembers the turn's facts (after the agent, from that state), so
   what it stores is the redacted text; the agent's model is its correction judge
   (``tools.correction_judge``), as in our graph.

Needs the ``langchain`` extra (``pip install "support-agent[langchain]"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware, PIIMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph.state import CompiledStateGraph

from graphs.support.dependencies import SupportServices
from graphs.support.facts import Fact, extract_facts
from graphs.support.safety import injection_markers
from tools.middleware import (
    EscalationMiddleware,
    MemoryMiddleware,
    ResilienceMiddleware,
)
from tools.middleware.escalation import Schema

SYSTEM_PROMPT = (
    "You are a customer-support assistant for an online shop. Answer from the knowledge "
    "base and the customer's orders, using the tools; never invent policies or order "
    "details. Hand the conversation to a human with escalate_to_human when the customer "
    "asks for a person, is angry, or mentions legal or safety issues, and relay a human "
    "agent's reply word for word."
)


def durable_facts(text: str) -> list[Fact]:
    """The facts worth keeping, by our graph's rules: none from a message flagged for
    prompt injection (memory poisoning outlives the turn)."""
    return [] if injection_markers(text) else extract_facts(text)


def support_middleware(
    services: SupportServices,
    *,
    tool_dependencies: Mapping[str, str] | None = None,
    schema: Schema = "langchain",
    judge: BaseChatModel | None = None,
) -> list[AgentMiddleware]:
    """The pack's middleware, in the order the module docstring explains; ``judge`` is the
    chat model asked which memories a new fact corrects (None: the store's rules alone)."""
    tenant = services.settings.tenant_id
    return [
        ResilienceMiddleware(services.resilience, tools=tool_dependencies, default_tenant=tenant),
        EscalationMiddleware(
            services.escalation, services.resilience, schema=schema, default_tenant=tenant
        ),
        PIIMiddleware("email", strategy="redact", apply_to_input=True),
        MemoryMiddleware(
            services.memory,
            services.resilience,
            extract=durable_facts,
            access_log=services.access_log,
            default_tenant=tenant,
            judge=judge,
        ),
    ]


def build_agent(
    services: SupportServices,
    model: BaseChatModel,
    *,
    checkpointer: BaseCheckpointSaver | None = None,
    tools: Sequence[BaseTool] = (),
    tool_dependencies: Mapping[str, str] | None = None,
    schema: Schema = "langchain",
) -> CompiledStateGraph:
    """``create_agent`` over ``model`` with the pack's tools, your ``tools`` and the pack's
    middleware. A hand-off pauses the run, so pass a ``checkpointer`` to resume it."""
    return create_agent(
        model,
        tools=[*services.tools, *tools],
        system_prompt=SYSTEM_PROMPT,
        middleware=support_middleware(
            services, tool_dependencies=tool_dependencies, schema=schema, judge=model
        ),
        checkpointer=checkpointer,
        name="support_middleware_agent",
    )
