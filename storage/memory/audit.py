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

from storage.memory.execution import Step
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


@functools.cache
def _insert() -> Insert:
    return insert(audit)


def written(entries: Iterable[dict[str, Any]]) -> Step:
    """The step that writes ``entries`` (``entry`` / ``scoped``): one INSERT compiled once,
    executed for each entry."""
    listed = list(entries)
    return Step(_insert(), "rowcount", listed[0] if len(listed) == 1 else listed)
