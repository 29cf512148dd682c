"""``support-agent chat``: talk to the agent in a terminal, as a customer.

When the agent hands the conversation to a person, the terminal asks for that person's
reply and resumes the run with it, so both sides of the handoff can be tried alone.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable

from rich.console import Console
from rich.prompt import Prompt

from agent.conversation import Conversation, open_agent, render_turn
from agent.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]
QUIT = {"/quit", "/exit", "quit", "exit"}


async def _loop(settings: Settings, user: str, console: Console) -> None:
    async with open_agent(settings) as (_services, graph):
        conversation = Conversation(graph, user, settings.tenant_id)
        console.print(f"[dim]thread {conversation.thread_id} · customer {user} · /quit to leave[/]")
        while True:
            text = await asyncio.to_thread(Prompt.ask, "[bold cyan]you")
            if text.strip().lower() in QUIT:
                return
            result = await conversation.say(text)
            render_turn(console, user, text, result)
            while result.interrupt is not None:
                reply = await asyncio.to_thread(Prompt.ask, "[bold red]human agent reply")
                result = await conversation.resume({"reply": reply})
                render_turn(console, None, reply, result)


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    try:
        asyncio.run(_loop(settings, args.user, Console()))
    except (KeyboardInterrupt, EOFError):
        return 0
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    parser = sub.add_parser("chat", help="talk to the support agent in the terminal")
    parser.add_argument(
        "--user", default="guest", help="customer id the conversation belongs to (default: guest)"
    )
    commands["chat"] = _chat
