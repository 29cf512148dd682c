"""The audit trail: who changed which memory, when, and how; never the content.

Entries are written in the same transaction as the change, so there is no change without
its entry and no entry for a change that was rolled back.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy import Insert, insert

from storage.memory.scope import Scope
from storage.memory.tables import audit

Action = Literal["remember", "dedup", "supersede", "forget", "sweep", "purge"]


def entry(
    action: Action,
    memory_id: str | None,
    now: float,
    *,
    tenant_id: str,
    user_id: str | None,
    session_id: str | None = None,
    **detail: Any,
) -> dict[str, Any]:
    return {
        "at": now,
        "tenant_id": tenant_id,
        "user_id": user_id,
        "session_id": session_id,
        "action": action,
        "memory_id": memory_id,
        "detail": json.dumps(detail, separators=(",", ":"), sort_keys=True),
    }


def scoped(
    scope: Scope, action: Action, memory_id: str | None, now: float, **detail: Any
) -> dict[str, Any]:
    return entry(
        action,
        memory_id,
        now,
        tenant_id=scope.tenant_id,
        user_id=scope.user_id,
        session_id=scope.session_id,
        **detail,
    )


def record(entries: Iterable[dict[str, Any]]) -> Insert:
    return insert(audit).values(list(entries))


@functools.cache
def insert_entry() -> Insert:
    """One compiled INSERT for the hot path; execute it with an ``entry`` as parameters."""
    return insert(audit)
