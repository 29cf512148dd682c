"""forget (soft delete), export (data portability) and purge (erasure) of one user's memories.

forget hides a memory at once and the sweep hard-deletes its text after
``forget_grace_s`` (an undo window for operators); purge removes everything immediately:
memories with their vectors (stored in the same row), superseded ones included, and the
user's audit entries, leaving one audit entry that names the subject only by a sha256. On SQLite the
freed pages are zeroed and the WAL is checkpointed (see ``MemoryStore.purge``), so the text
is not left in the file either; on Postgres dead tuples remain until (auto)vacuum.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, func, select, text, update

from storage.memory import audit
from storage.memory.errors import InvalidMemoryInputError
from storage.memory.execution import Plan, Step
from storage.memory.models import MemoryRecord, iso
from storage.memory.queries import RECORD_COLUMNS, in_scope, live, owned_by, scope_lock
from storage.memory.scope import Scope
from storage.memory.tables import audit as audit_table
from storage.memory.tables import memories
from storage.sealing import TenantKey

_MEMORY_ID = re.compile(r"^[0-9a-f]{32}$")


def validate_memory_id(memory_id: object) -> str:
    if not isinstance(memory_id, str) or not _MEMORY_ID.fullmatch(memory_id):
        raise InvalidMemoryInputError(
            "memory_id", "must be the 32 hex characters remember returned"
        )
    return memory_id


def forget_plan(*, scope: Scope, memory_id: str, now: float, backend: str) -> Plan[bool]:
    yield scope_lock(backend, scope)
    forgotten = yield Step(
        update(memories)
        .where(in_scope(scope), memories.c.id == memory_id, live(now))
        .values(deleted_at=now)
        .returning(memories.c.id),
        "one",
    )
    if forgotten is None:
        return False
    yield audit.written([audit.scoped(scope, "forget", memory_id, now)])
    return True


def forget_matching_plan(
    *, scope: Scope, matches: Callable[[str], bool], now: float, backend: str, key: TenantKey
) -> Plan[list[MemoryRecord]]:
    """Forget every current memory whose text ``matches`` ("forget my phone number"): the
    caller decides what a request is about; the store finds and hides the memories."""
    yield scope_lock(backend, scope)
    rows = yield Step(
        select(*RECORD_COLUMNS).where(in_scope(scope), live(now)).order_by(memories.c.created_at)
    )
    records = (MemoryRecord.opened(row, key) for row in rows)
    chosen = [record for record in records if record is not None and matches(record.content)]
    if not chosen:
        return []
    yield Step(
        update(memories)
        .where(in_scope(scope), memories.c.id.in_([m.id for m in chosen]), live(now))
        .values(deleted_at=now),
        "rowcount",
    )
    entries = [audit.scoped(scope, "forget", m.id, now, reason="request") for m in chosen]
    yield audit.written(entries)
    return chosen


def export_plan(
    *, tenant_id: str, user_id: str, now: float, key: TenantKey
) -> Plan[dict[str, Any]]:
    """The user's memories in plaintext (opened with the tenant's key) and audit entries;
    memories sealed under a destroyed key are erased and left out."""
    rows = yield Step(
        select(*RECORD_COLUMNS, memories.c.deleted_at, memories.c.superseded_by)
        .where(owned_by(tenant_id, user_id))
        .order_by(memories.c.created_at, memories.c.id)
    )
    entries = yield Step(
        select(audit_table)
        .where(audit_table.c.tenant_id == tenant_id, audit_table.c.user_id == user_id)
        .order_by(audit_table.c.id)
    )
    exported = []
    for row in rows:
        opened = MemoryRecord.opened(row, key)
        if opened is None:
            continue
        record = opened.to_dict()
        record["deleted_at"] = iso(row.deleted_at)
        record["superseded_by"] = row.superseded_by
        if row.deleted_at is not None:
            record["state"] = "forgotten"
        elif row.superseded_by is not None:
            record["state"] = "superseded"
        elif row.expires_at is not None and row.expires_at <= now:
            record["state"] = "expired"
        else:
            record["state"] = "live"
        exported.append(record)
    return {
        "tenant_id": tenant_id,
        "user_id": user_id,
        "exported_at": iso(now),
        "memories": exported,
        "audit": [
            {
                "at": iso(entry.at),
                "action": entry.action,
                "memory_id": entry.memory_id,
                "session_id": entry.session_id,
                "detail": json.loads(entry.detail),
            }
            for entry in entries
        ],
    }


def purge_plan(*, tenant_id: str, user_id: str, now: float, backend: str) -> Plan[dict[str, int]]:
    if backend == "sqlite":
        # Zero freed pages so the text does not linger in the file's free list.
        yield Step(text("PRAGMA secure_delete = ON"), "rowcount")
    yield scope_lock(backend, Scope(tenant_id, user_id))
    vector_count = yield Step(
        select(func.count(memories.c.embedding)).where(owned_by(tenant_id, user_id)), "scalar"
    )
    memory_count = yield Step(delete(memories).where(owned_by(tenant_id, user_id)), "rowcount")
    audit_count = yield Step(
        delete(audit_table).where(
            audit_table.c.tenant_id == tenant_id, audit_table.c.user_id == user_id
        ),
        "rowcount",
    )
    counts = {
        "memories": memory_count,
        "vectors": vector_count or 0,
        "audit_entries": audit_count,
    }
    subject = hashlib.sha256(f"{tenant_id}\x00{user_id}".encode()).hexdigest()
    yield audit.written(
        [
            audit.entry(
                "purge",
                None,
                now,
                tenant_id=tenant_id,
                user_id=None,
                subject_sha256=subject,
                **counts,
            )
        ]
    )
    return counts
