"""``support-agent demo``: the scripted tour of the agent on the embedded defaults.

It loads the sample help centre and CRM (idempotent: a second run adds nothing), clears the
demo customers' memories so every run tells the same story, then plays three sessions: a
knowledge-base answer with sources, an order lookup, a preference remembered and recalled
in a later session, the same preference not stored twice, and an angry customer handed to
a person (interrupt) and resumed with the person's reply.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Any

from rich.console import Console
from rich.rule import Rule

from agent.conversation import DEMO_DATA, Conversation, open_agent, render_turn
from agent.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]

MAYA = "maya_chen_4821"
OMAR = "omar_haddad_3307"
HUMAN_REPLY = (
    "Hi Omar, this is Dana from Larkspur support. I'm sorry your chair broke: a replacement "
    "ships today by express at no cost, and our freight partner will collect the broken one."
)


async def prepare(services: Any, console: Console | None = None) -> None:
    """Load the sample data once and reset the demo customers' memories."""
    console = console or Console(quiet=True)
    from storage.crm import load_jsonl

    tenant = services.settings.tenant_id
    summary = await services.ingestor.aingest([DEMO_DATA / "kb"])
    counts = summary.counts
    console.print(
        f"[dim]knowledge base: {len(summary.files)} articles · added {counts['added']} · "
        f"unchanged {counts['unchanged']} · replaced {counts['replaced']}[/]"
    )
    crm = await asyncio.to_thread(
        load_jsonl,
        services.database,
        tenant,
        DEMO_DATA / "customers.jsonl",
        DEMO_DATA / "orders.jsonl",
    )
    console.print(f"[dim]CRM: {crm.customers} customers, {crm.orders} orders (upserted)[/]")
    for user in (MAYA, OMAR):
        await services.memory.apurge(tenant, user)


async def play(settings: Settings, console: Console) -> None:
    async with open_agent(settings) as (services, graph):
        await prepare(services, console)
        tenant = settings.tenant_id

        console.print(
            Rule("Session 1 · Maya asks a question, checks an order, states a preference")
        )
        maya = Conversation(graph, MAYA, tenant)
        for text in (
            "Hi! How long does a refund take to show up on my credit card?",
            "Where is my order #W1000101?",
            "Please only contact me by email, never by phone.",
        ):
            render_turn(console, "Maya", text, await maya.say(text))

        console.print(Rule("Session 2 · a new conversation: the preference is recalled"))
        later = Conversation(graph, MAYA, tenant)
        for text in (
            "Can I still change the shipping address of my order? And how will you contact me?",
            "Just to be clear: please only contact me by email, never by phone.",
        ):
            render_turn(console, "Maya", text, await later.say(text))

        console.print(Rule("Session 3 · an angry customer is handed to a person"))
        omar = Conversation(graph, OMAR, tenant)
        text = (
            "This is ridiculous!! My office chair from order #W1000201 broke after two days. "
            "I want to talk to a real person NOW."
        )
        paused = await omar.say(text)
        render_turn(console, "Omar", text, paused)
        resumed = await omar.resume({"reply": HUMAN_REPLY, "agent": "Dana"})
        console.print(
            "[dim]A person (Dana) answers the handoff; the run resumes with "
            "Command(resume={'reply': ..., 'agent': 'Dana'}) and sends her reply:[/]"
        )
        render_turn(console, None, HUMAN_REPLY, resumed)
        ticket_id = (resumed.values.get("escalation") or {}).get("ticket_id")
        if ticket_id:
            await services.tickets.aupdate(
                tenant, ticket_id, "status", {"note": "demo finished"}, status="resolved"
            )
        console.print(Rule("Demo complete"))


def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    asyncio.run(play(settings, Console()))
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    sub.add_parser(
        "demo", help="play a scripted support conversation on the sample shop (no API key)"
    )
    commands["demo"] = _demo
