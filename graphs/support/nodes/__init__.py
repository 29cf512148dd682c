"""The nodes of one support turn, a module each: guard → recall → triage → (escalate |
retrieve → respond ⇄ tools | forget) → remember.

Every node is ``async def node(state, runtime, *, deps)``: ``runtime`` carries the run's
context and the server-authenticated user, ``deps`` the process services (bound by
``build_graph``). A node catches the tool pack's ``ToolError`` (what the resilience layer
turns every dependency failure into) and degrades: the dependency is named in ``degraded``
and the turn goes on with less. ``GraphBubbleUp`` (interrupts) is never caught. Writes carry
idempotency keys made of the thread and the customer's message id, because LangGraph re-runs
an interrupted node from its start.
"""

from graphs.support.nodes.escalate import escalate
from graphs.support.nodes.forget import forget
from graphs.support.nodes.guard import guard
from graphs.support.nodes.recall import recall
from graphs.support.nodes.remember import remember
from graphs.support.nodes.respond import respond
from graphs.support.nodes.retrieve import retrieve
from graphs.support.nodes.tools import run_tools
from graphs.support.nodes.triage import triage

__all__ = [
    "escalate",
    "forget",
    "guard",
    "recall",
    "remember",
    "respond",
    "retrieve",
    "run_tools",
    "triage",
]
