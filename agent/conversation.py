"""Run the support graph turn by turn from a terminal: shared by ``demo`` and ``chat``.

The graph is imported lazily: ``agent`` sits below ``graphs`` in the layering, and only these
entry points (like ``langgraph dev``) reach up to run it.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.types import Command
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from agent.settings import Settings

# ``graphs`` is a sibling top-level package, in a source tree and in site-packages alike.
DEMO_DATA = Path(__file__).resolve().parents[1] / "graphs" / "demo_data"


@dataclass
class TurnResult:
    reply: str
    values: dict[str, Any]
    interrupt: dict[str, Any] | None = None
    replied_by: str | None = None


@dataclass
class Conversation:
    """One thread of the graph for one customer; ``say`` and ``resume`` run a turn each."""

    graph: Any
    user_id: str
    tenant_id: str
    thread_id: str = field(default_factory=lambda: f"chat-{uuid.uuid4().hex[:12]}")
    context: dict[str, Any] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, Any]:
        # The owner in the run metadata is copied into every checkpoint: erasure finds the
        # customer's threads by it.
        return {
            "configurable": {"thread_id": self.thread_id},
            "metadata": {"tenant_id": self.tenant_id, "user_id": self.user_id},
        }

    async def say(self, text: str) -> TurnResult:
        return await self._run({"messages": [HumanMessage(text)]})

    async def resume(self, reply: str | Mapping[str, Any]) -> TurnResult:
        return await self._run(Command(resume=reply))

    async def _run(self, payload: Any) -> TurnResult:
        context = {"tenant_id": self.tenant_id, "user_id": self.user_id, **self.context}
        await self.graph.ainvoke(payload, self.config, context=context)
        snapshot = await self.graph.aget_state(self.config)
        values = dict(snapshot.values)
        pending = [i.value for i in snapshot.interrupts]
        last = values["messages"][-1] if values.get("messages") else None
        fresh = last is not None and last.type == "ai"
        return TurnResult(
            reply=last.text if fresh else "",
            values=values,
            interrupt=pending[0] if pending else None,
            replied_by=getattr(last, "name", None) if fresh else None,
        )


@contextlib.asynccontextmanager
async def open_agent(settings: Settings) -> AsyncIterator[tuple[Any, Any]]:
    """Services, a checkpointer from the settings and the compiled graph; all closed on exit."""
    from agent.services import Services
    from graphs.support import aopen_checkpointer, build_graph

    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        yield services, graph


def render_turn(console: Console, who: str | None, text: str, result: TurnResult) -> None:
    """The customer's message (unless ``who`` is None), the reply, and what the graph did."""
    if who is not None:
        console.print(
            Panel(text, title=f"[bold cyan]{who}", title_align="left", border_style="cyan")
        )
    values = result.values
    if result.interrupt is not None:
        packet = result.interrupt
        console.print(
            Panel(
                f"ticket [bold]{packet.get('ticket_id')}[/] · reason {packet.get('reason')} · "
                f"priority {packet.get('priority')} · SLA due {packet.get('sla_due_at')}\n"
                f"summary: {packet.get('summary')}",
                title="[bold red]paused for a human (interrupt)",
                title_align="left",
                border_style="red",
            )
        )
        return
    author = "support agent (human)" if result.replied_by == "human_agent" else "assistant"
    console.print(
        Panel(result.reply, title=f"[bold green]{author}", title_align="left", border_style="green")
    )
    console.print(_details(values))


def _details(values: Mapping[str, Any]) -> Table:
    table = Table(show_header=False, box=None, padding=(0, 1), style="dim")
    table.add_row("intent", str(values.get("intent")))
    sources: Sequence[Mapping[str, Any]] = values.get("sources") or []
    if sources:
        table.add_row("sources", ", ".join(f"{s['source']} ({s['score']})" for s in sources))
    memories: Sequence[Mapping[str, Any]] = values.get("memories") or []
    if memories:
        table.add_row("recalled", "; ".join(m["content"] for m in memories))
    for fact in values.get("remembered") or []:
        state = "duplicate, not stored again" if fact["deduped"] else "stored"
        if fact.get("superseded"):
            state = f"stored, replaces {len(fact['superseded'])} older"
        table.add_row("remembered", f"{fact['content']} → {state} ({fact['memory_id']})")
    escalation = values.get("escalation")
    if escalation and escalation.get("status") == "answered":
        table.add_row("ticket", f"{escalation['ticket_id']}: human reply recorded")
    for flag in values.get("flags") or []:
        table.add_row("flag", flag)
    degraded = values.get("degraded") or []
    if degraded:
        table.add_row("degraded", ", ".join(degraded))
    return table
