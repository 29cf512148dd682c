"""Who is calling: tenant, user and session, carried in a contextvar for rate limits.

Tools never take these from model arguments; the graph (or the caller) opens a scope
once per turn and every guarded call inside it is limited per session and per tenant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallScope:
    tenant: str
    user: str | None = None
    session: str | None = None


_scope: ContextVar[CallScope | None] = ContextVar("resilience_call_scope", default=None)


def current_scope() -> CallScope | None:
    return _scope.get()


@contextmanager
def call_scope(
    tenant: str, user: str | None = None, session: str | None = None
) -> Iterator[CallScope]:
    """Attribute every guarded call inside to this tenant / user / session."""
    token = _scope.set(CallScope(tenant, user, session))
    try:
        yield _scope.get()  # type: ignore[misc]
    finally:
        _scope.reset(token)
