"""Access-log entries for reads of a customer's data (``storage.access_log``), made one way
by every reader: the CRM service, the memory tools and the graph's recall."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from storage.access_log import Action
from tools.runtime import CallerScope


def read_entries(
    caller: CallerScope, action: Action, subjects: Sequence[str]
) -> list[dict[str, Any]]:
    """One entry per customer whose data ``caller`` read, or one "not found" entry."""
    base = {
        "tenant_id": caller.tenant_id,
        "actor_id": caller.user_id,
        "actor_role": caller.role,
        "action": action,
    }
    if not subjects:
        return [{**base, "subject_id": None, "outcome": "not_found"}]
    return [{**base, "subject_id": subject, "outcome": "found"} for subject in subjects]
