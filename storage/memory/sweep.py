"""The sweep: hard-delete expired memories and forgotten ones past their grace period.

Each batch is its own short transaction. On Postgres the batch is claimed with
``FOR UPDATE SKIP LOCKED`` so several sweepers split the work instead of queueing; the DELETE
re-checks the condition (a row revived by a new remember in between survives), and counts
come from ``RETURNING``, so a row is counted by exactly one sweeper. Running it twice, or
from several processes at once, is harmless.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, delete, or_, select

from storage.memory import audit
from storage.memory.execution import Plan, Step
from storage.memory.queries import expired
from storage.memory.tables import memories


def _sweepable(now: float, forget_grace_s: int) -> ColumnElement[bool]:
    return or_(expired(now), memories.c.deleted_at <= now - forget_grace_s)


def sweep_batch_plan(*, batch_size: int, forget_grace_s: int, now: float) -> Plan[tuple[int, int]]:
    """Delete at most one batch; returns (rows claimed, rows this call deleted).

    The caller keeps going while a full batch was claimed: on SQLite two sweepers may claim
    the same rows and one of them deletes none, which must not read as "nothing left".
    """
    claimed = yield Step(
        select(memories.c.id)
        .where(_sweepable(now, forget_grace_s))
        .limit(batch_size)
        .with_for_update(skip_locked=True)
    )
    if not claimed:
        return 0, 0
    deleted = yield Step(
        delete(memories)
        .where(memories.c.id.in_([row.id for row in claimed]), _sweepable(now, forget_grace_s))
        .returning(memories.c.id, memories.c.tenant_id, memories.c.user_id, memories.c.deleted_at)
    )
    if deleted:
        yield audit.written(
            audit.entry(
                "sweep",
                row.id,
                now,
                tenant_id=row.tenant_id,
                user_id=row.user_id,
                reason="expired" if row.deleted_at is None else "forgotten",
            )
            for row in deleted
        )
    return len(claimed), len(deleted)
