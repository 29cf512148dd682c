"""The typed state of one conversation (a LangGraph thread).

``messages`` is the conversation; every other field describes the current turn and is
reset by the guard node when a new customer message arrives, except ``unresolved_turns``
(consecutive turns we could not answer: a repeated-failure escalation signal) and
``escalation`` (the last escalation, so a resumed run finds its ticket). ``turn_id`` is
the id of the customer's message; with the thread id it forms the idempotency key of
every write of the turn, so a run resumed after an interrupt (which re-runs the node)
never creates a second ticket.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

Intent = Literal["question", "order", "forget", "escalate", "unavailable", "rejected"]


class Passage(TypedDict):
    """A knowledge-base chunk, kept as data: it is quoted, never obeyed."""

    title: str
    source: str
    chunk: int
    content: str
    score: float


class Source(TypedDict):
    n: int
    title: str
    source: str
    score: float


class Memory(TypedDict):
    id: str
    content: str
    content_type: str
    score: float


class Escalation(TypedDict, total=False):
    ticket_id: str
    created: bool
    reason: str
    priority: str
    signals: list[dict[str, Any]]
    status: Literal["answered", "ticket_only", "failed"]
    human_reply: str


class RememberedFact(TypedDict):
    content: str
    content_type: str
    memory_id: str | None
    deduped: bool
    superseded: list[str]  # ids of the memories this fact corrected


class InputState(TypedDict):
    """What a caller sends: the new customer message(s)."""

    messages: Annotated[list[AnyMessage], add_messages]


class OutputState(TypedDict, total=False):
    """What a caller gets back: the conversation plus what the turn relied on."""

    messages: Annotated[list[AnyMessage], add_messages]
    sources: list[Source]
    escalation: Escalation | None
    flags: list[str]
    degraded: list[str]
    remembered: list[RememberedFact]


class Owner(TypedDict):
    """Who the conversation is with; checkpointers copy it into metadata for erasure."""

    tenant_id: str
    user_id: str


class State(OutputState, total=False):
    owner: Owner | None
    turn_id: str
    query: str
    query_embedding: list[float] | None
    intent: Intent
    signals: list[dict[str, Any]]
    order_id: str | None
    memories: list[Memory]
    passages: list[Passage]
    order: dict[str, Any] | None
    order_missing: str | None
    tool_rounds: int
    unresolved_turns: int
