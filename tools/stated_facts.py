"""Remembering what a customer stated in a conversation: the one step the support graph's
remember node and ``MemoryMiddleware`` share.

A fact carries where it came from (the conversation and its thread), and when there is a
correction judge it is asked first, outside the store's lock, which close memories the fact
makes untrue (``tools.correction_judge``); the store then remembers the fact, deduplicating
and superseding by its own rules as well.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from storage.memory import RememberResult, Scope
from tools.correction_judge import CorrectionJudge


class Fact(Protocol):
    content: str
    content_type: str
    importance: float


Remember = Callable[..., Awaitable[RememberResult]]


def provenance(thread: str | None) -> dict[str, Any]:
    """The metadata of a memory taken from a conversation."""
    return {"source": "conversation", "thread": thread or ""}


async def remember_stated(
    fact: Fact,
    scope: Scope,
    *,
    remember: Remember,
    judge: CorrectionJudge | None,
    thread: str | None,
) -> RememberResult:
    """``remember``: ``MemoryStore.aremember`` as the caller guards it (its resilience layer,
    attributed to the customer); its errors reach the caller."""
    judged = await judge.outdated(fact.content, fact.content_type) if judge else ()
    return await remember(
        scope,
        fact.content,
        content_type=fact.content_type,
        importance=fact.importance,
        metadata=provenance(thread),
        supersedes=judged,
    )
