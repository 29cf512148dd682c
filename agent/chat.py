"""``support-agent chat``: talk to the agent in a terminal, as a customer.

When the agent hands the conversation to a person, the terminal asks for that person's
reply and resumes the run with it, so both sides of the handoff can be tried alone.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
from collections.abc import Callable

from rich.console import Console

from agent.conversation import Conversation, open_agent, render_turn
from agent.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]
QUIT = {"/quit", "/exit", "quit", "exit"}


def _read_line() -> str:
    """One line from standard input through the bare file descriptor.

    ``input()`` would hold ``sys.stdin``'s lock while it waits, and an interpreter shutting
    down after Ctrl-C aborts when it finds that lock held by another thread.
    """
    line = bytearray()
    while True:
        byte = os.read(0, 1)
        if not byte:
            if not line:
                raise EOFError
            break
        if byte == b"\n":
            break
        line += byte
    return line.decode(errors="replace").rstrip("\r")


async def _ask(console: Console, question: str) -> str:
    """Read a line in a daemon thread: Ctrl-C then ends the command at once, where a worker
    of the default executor would keep the process waiting on the terminal."""
    console.print(f"{question}: ", end="")
    loop = asyncio.get_running_loop()
    answer: asyncio.Future[str] = loop.create_future()

    def settle(value: str | None, error: BaseException | None) -> None:
        if answer.done():
            return
        if error is not None:
            answer.set_exception(error)
        else:
            answer.set_result(value or "")

    def read() -> None:
        try:
            value = _read_line()
        except BaseException as exc:  # EOF or a closed terminal ends the chat, in the loop
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, value, None)

    threading.Thread(target=read, name="chat-input", daemon=True).start()
    return await answer


async def _loop(settings: Settings, user: str, console: Console) -> None:
    async with open_agent(settings) as (services, graph):
        conversation = Conversation(graph, user, settings.tenant_id)
        for warning in await services.data_warnings():
            console.print(f"[yellow]{warning}[/]")
        console.print(f"[dim]thread {conversation.thread_id} · customer {user} · /quit to leave[/]")
        while True:
            text = await _ask(console, "[bold cyan]you")
            if text.strip().lower() in QUIT:
                return
            result = await conversation.say(text)
            render_turn(console, user, text, result)
            while result.interrupt is not None:
                reply = await _ask(console, "[bold red]human agent reply")
                result = await conversation.resume({"reply": reply})
                render_turn(console, None, reply, result)


def _chat(settings: Settings, args: argparse.Namespace) -> int:
    """Ctrl-C propagates to the CLI, which reports it and exits 130; end of input is a quit."""
    try:
        asyncio.run(_loop(settings, args.user, Console()))
    except EOFError:
        return 0
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    parser = sub.add_parser("chat", help="talk to the support agent in the terminal")
    parser.add_argument(
        "--user", default="guest", help="customer id the conversation belongs to (default: guest)"
    )
    commands["chat"] = _chat
