"""remember() on Postgres: usually one round trip, a single-statement write.

The generic plan (``remember.py``) needs about seven round trips with BEGIN and COMMIT; on
Postgres each costs a network hop and a backend wake-up. Here the dedup decision is taken
from the scope's snapshot (``scope_snapshots``: SimHashes, content hashes and vectors kept in
process, stamped with the scope's version) and the write is one autocommit statement whose
data-modifying CTEs replace the scope's version, then upsert the memory with its audit
entry (or refresh the duplicate with its audit entry), only if the version is still
the one the snapshot was read at. So:
- a new fact costs one round trip when the snapshot is warm (this process wrote or read the
  scope within ``memory.scope_snapshot_ttl_s``), two when it has to be read;
- a near or semantic candidate costs one more (its text, for the same-numbers guard);
- if another process changed the scope meanwhile, the write does nothing and the plan
  rereads and retries; after ``GUARDED_ATTEMPTS`` the write goes through unguarded, so heavy
  contention degrades to the generic plan's behaviour, never to a lost memory.
A single statement is its own transaction, so nothing is ever half-written, and the exact
tier is still settled by the unique index inside the write (ON CONFLICT): concurrent inserts
of one fact stay one row whatever the snapshots say.
"""

from __future__ import annotations

import functools
import json
import secrets
import uuid
from typing import Any

import numpy as np
from sqlalchemy import (
    Float,
    LargeBinary,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from storage.config import MemoryConfig
from storage.memory import normalize, vector_codec
from storage.memory.binary_results import binary_results
from storage.memory.execution import Plan, Step
from storage.memory.inputs import RememberInput
from storage.memory.models import DedupTier, MemoryRecord, RememberResult
from storage.memory.queries import RECORD_COLUMNS, bound_scope, live, scope_parameters
from storage.memory.remember import (
    Fingerprint,
    _contents,
    _refresh,
    above_threshold,
    new_row_parameters,
    new_row_values,
    pick_near,
    same_numbers_first,
    ttl_for,
    upserting,
)
from storage.memory.scope import Scope
from storage.memory.scope_snapshots import ScopeKey, ScopeSnapshot, ScopeSnapshots
from storage.memory.tables import audit as audit_table
from storage.memory.tables import memories, scope_versions

AUDIT_COLUMNS = ["at", "tenant_id", "user_id", "session_id", "action", "memory_id", "detail"]
GUARDED_ATTEMPTS = 3


def _in_versioned_scope() -> Any:
    return and_(
        scope_versions.c.tenant_id == bindparam("scope_tenant"),
        scope_versions.c.user_id == bindparam("scope_user"),
        scope_versions.c.content_type == bindparam("type"),
    )


@functools.cache
def _snapshot() -> Select:
    """The scope's version, then its live memories' fingerprints and vectors, a row each.

    A scope without a version row gets one (``:new_version``), so the write's guard is a
    plain compare-and-set; a scope without memories is one row of NULLs after its version.
    Vectors of another width (another model) are replaced by zeros (``:blank``) so every
    row has one; a zero vector matches nothing. Rows rather than aggregates: see
    ``queries.vector_select``.
    """
    created = (
        pg_insert(scope_versions)
        .values(
            tenant_id=bindparam("scope_tenant"),
            user_id=bindparam("scope_user"),
            content_type=bindparam("type"),
            version=bindparam("new_version"),
        )
        .on_conflict_do_nothing()
        .returning(scope_versions.c.version)
        .cte("created")
    )
    existing = select(scope_versions.c.version).where(_in_versioned_scope()).scalar_subquery()
    vector = case(
        (func.length(memories.c.embedding) == bindparam("width"), memories.c.embedding),
        else_=bindparam("blank", type_=LargeBinary),
    )
    version = select(
        func.coalesce(select(created.c.version).scalar_subquery(), existing).label("version")
    ).subquery("scope_version")
    in_scope = and_(
        bound_scope(), memories.c.content_type == bindparam("type"), live(bindparam("now"))
    )
    statement = select(
        version.c.version,
        memories.c.id,
        memories.c.simhash,
        memories.c.content_hash,
        memories.c.expires_at,
        vector,
    ).select_from(version.outerjoin(memories, in_scope))
    return binary_results(statement)


def _guard(guarded: bool) -> Any:
    """Replace the scope's version: only if it is still ``:expected`` when ``guarded``.

    Returns a row only when it did, and a guarded write depends on that row. UPDATE
    rechecks its condition on the locked, latest row, so of two writers that read the same
    version exactly one proceeds. An unguarded write still replaces the version, so every
    other process's snapshot of the scope goes stale.
    """
    condition = _in_versioned_scope()
    if guarded:
        condition = and_(condition, scope_versions.c.version == bindparam("expected"))
    return (
        update(scope_versions)
        .where(condition)
        .values(version=bindparam("new_version"))
        .returning(scope_versions.c.version)
        .cte("guard")
    )


def _after(guard: Any, guarded: bool) -> Any:
    """The condition that makes a write wait for its guard.

    Guarded: the guard must have returned its row. Unguarded: always true, but it still
    runs the guard first, so every writer locks the version row before any memory row;
    in the opposite order a forced and a guarded writer deadlock.
    """
    if guarded:
        return select(guard.c.version).exists()
    return select(func.count()).select_from(guard).scalar_subquery() >= 0


def _audit_from(source: Any, action: Any, detail: Any) -> Any:
    return insert(audit_table).from_select(
        AUDIT_COLUMNS,
        select(
            bindparam("now", type_=Float),
            source.c.tenant_id,
            source.c.user_id,
            bindparam("audit_session", type_=String),
            action,
            source.c.id,
            detail,
        ),
    )


@functools.cache
def _insert(guarded: bool, whole: bool) -> Select:
    """Guard + upsert + audit entry in one statement (no row: the guard refused).

    Returns the whole memory, or with ``whole=False`` only its id and access count: when
    the snapshot shows no live memory of that content, the row written is the new values
    (a fresh one, or an expired one revived as them), so the caller has the rest already.
    Each returned column costs the driver and SQLAlchemy's result set-up per call (through
    SQLAlchemy, a SELECT of thirteen such columns measured 4-18 µs more than of three).

    No SimHash band rows: on Postgres the band index lives in the scope snapshot, which is
    always what near-duplicates are found in (the table serves the generic plan).
    """
    guard = _guard(guarded)
    values = select(*new_row_values().values()).where(_after(guard, guarded))
    written = upserting(
        pg_insert(memories).from_select([column.name for column in memories.c], values)
    ).cte("written")
    fresh = written.c.access_count == 0
    entry = _audit_from(
        written,
        case((fresh, literal("remember")), else_=literal("dedup")),
        case((fresh, literal("{}")), else_=literal('{"tier":"exact"}')),
    ).cte("entry")
    returned = written.c if whole else (written.c.id, written.c.access_count)
    return select(*returned).add_cte(entry)


@functools.cache
def _memory() -> Select:
    return select(*RECORD_COLUMNS).where(memories.c.id == bindparam("id"))


@functools.cache
def _merge(guarded: bool) -> Select:
    """Guard + refresh of a near/semantic duplicate + its audit entry in one statement.

    No row: the guard refused. A row whose ``id`` is NULL: the guard passed but the
    duplicate was gone (forgotten or expired since the snapshot).
    """
    guard = _guard(guarded)
    refreshed_cte = _refresh().where(_after(guard, guarded)).cte("refreshed")
    entry = _audit_from(refreshed_cte, literal("dedup"), bindparam("audit_detail")).cte("entry")
    if not guarded:
        return select(*refreshed_cte.c).add_cte(entry)
    return (
        select(guard.c.version, *refreshed_cte.c)
        .select_from(guard.outerjoin(refreshed_cte, true()))
        .add_cte(entry)
    )


def _duplicate(
    snapshot: ScopeSnapshot,
    content: str,
    fingerprint: Fingerprint,
    vector: np.ndarray | None,
    config: MemoryConfig,
    now: float,
) -> Plan[tuple[str | None, DedupTier | None]]:
    """The near or semantic duplicate the snapshot points at, checked against its text."""
    # Within the radius before any text is fetched: templated texts share bands often.
    near = [
        (memory_id, simhash)
        for memory_id, simhash in snapshot.near_candidates(fingerprint.simhash, now)
        if normalize.hamming(simhash, fingerprint.simhash) <= config.simhash_radius
    ]
    similar: list[str] = []
    if vector is not None:
        ids, matrix = snapshot.live_vectors(now)
        similar = above_threshold(ids, matrix, vector, config.semantic_threshold)
    if not near and not similar:
        return None, None
    wanted = sorted({memory_id for memory_id, _ in near} | set(similar))
    texts = dict((yield Step(_contents(), "all", {"ids": wanted})))
    triples = [(i, simhash, texts[i]) for i, simhash in near if i in texts]
    target = pick_near(triples, content, fingerprint, config.simhash_radius)
    if target is not None:
        return target, "near"
    target = same_numbers_first(content, texts, [i for i in similar if i in texts])
    return (target, "semantic") if target is not None else (None, None)


def _as_written(
    memory_id: str, scope: Scope, request: RememberInput, now: float, expires_at: float | None
) -> MemoryRecord:
    """The memory a non-conflicting upsert wrote: the new values (see ``_insert``)."""
    return MemoryRecord(
        id=memory_id,
        tenant_id=scope.tenant_id,
        user_id=scope.user_id,
        session_id=scope.session_id,
        content_type=request.content_type,
        content=request.content,
        importance=request.importance,
        access_count=0,
        metadata=json.loads(request.metadata_json),
        created_at=now,
        reinforced_at=now,
        last_accessed_at=None,
        expires_at=expires_at,
    )


def remember_plan_postgres(
    *,
    scope: Scope,
    request: RememberInput,
    vector: np.ndarray | None,
    config: MemoryConfig,
    now: float,
    snapshots: ScopeSnapshots,
) -> Plan[RememberResult]:
    fingerprint = Fingerprint.of(request.content)
    ttl = ttl_for(config, request.content_type, request.ttl_s)
    expires_at = None if ttl is None else now + ttl
    semantic = vector if vector is not None and config.semantic_dedup else None
    dimension = 0 if semantic is None else semantic.shape[0]
    width = vector_codec.width(dimension) if dimension else -1
    key: ScopeKey = (scope.tenant_id, scope.user_id, request.content_type, width)
    scoped = {**scope_parameters(scope), "type": request.content_type, "now": now}
    for attempt in range(GUARDED_ATTEMPTS + 1):
        snapshot = snapshots.get(key)
        if snapshot is None:
            rows = yield Step(
                _snapshot(),
                "all",
                {
                    **scoped,
                    "width": width,
                    "blank": bytes(max(width, 0)),
                    "new_version": secrets.randbits(63),
                },
                precompiled=True,
            )
            snapshot = ScopeSnapshot.load(rows, dimension)
        # An exact duplicate is left to the write's ON CONFLICT, which settles it atomically.
        exact = snapshot.exact(fingerprint.content_hash, now)
        target, tier = (None, None)
        if not exact:
            target, tier = yield from _duplicate(
                snapshot, request.content, fingerprint, semantic, config, now
            )
        guarded = attempt < GUARDED_ATTEMPTS
        version = secrets.randbits(63)
        guard = {
            **scoped,
            "expected": snapshot.version,
            "new_version": version,
            "audit_session": scope.session_id,
        }
        snapshots.drop(key)
        if target is not None and tier is not None:
            merged = yield Step(
                _merge(guarded),
                "one",
                {
                    **guard,
                    "target_id": target,
                    "new_importance": request.importance,
                    "new_expires_at": expires_at,
                    "audit_detail": json.dumps({"tier": tier}, separators=(",", ":")),
                },
                precompiled=True,
            )
            if merged is not None and merged.id is not None:
                record = MemoryRecord.from_row(merged)
                if guarded:
                    snapshots.put(key, snapshot.with_expiry(version, record.id, record.expires_at))
                return RememberResult(record, True, tier, record.id)
            if guarded:
                continue  # refused, or the duplicate is gone: decide again from a fresh read
            # Unguarded and the duplicate is gone (forgotten meanwhile): the fact is new.

        new_id = uuid.uuid4().hex
        whole = exact or not guarded
        row = yield Step(
            _insert(guarded, whole),
            "one",
            {
                **guard,
                **new_row_parameters(scope, request, fingerprint, vector, new_id, now, expires_at),
            },
            precompiled=True,
        )
        if row is None:
            continue
        if whole:
            record = MemoryRecord.from_row(row)
        elif row.access_count == 0:
            record = _as_written(row.id, scope, request, now, expires_at)
        else:
            # A live row the snapshot could not know: written without a store (an import, a
            # manual fix), so the version did not move. The upsert refreshed it; read it.
            record = MemoryRecord.from_row(
                (yield Step(_memory(), "one", {"id": row.id}, precompiled=True))
            )
        if guarded:
            snapshots.put(
                key,
                snapshot.with_memory(
                    version,
                    record.id,
                    fingerprint.simhash,
                    fingerprint.content_hash,
                    record.expires_at,
                    semantic,
                ),
            )
        if record.access_count == 0:
            return RememberResult(memory=record, deduped=False)
        return RememberResult(record, True, "exact", record.id)
    raise AssertionError("the last attempt is unguarded and always writes")
