"""remember(): one algorithm, one transaction, on SQLite and Postgres alike.

1. lock the customer's scope (``queries.scope_lock``, taken by forget and purge too):
   ``pg_advisory_xact_lock`` of a hash of (tenant, user) on Postgres; on SQLite a write that
   matches nothing, which takes the database's write lock (so the transaction never has to
   upgrade a read lock, which could deadlock);
2. read the scope's live memories without their text (ids, hashes, SimHashes, slot keys,
   vectors) and shortlist the few that matter; read only those texts (``decide``);
3. write the outcome: refresh the duplicate, or insert the new memory and mark the memories
   it corrects as superseded by it; each with its audit entry.
Because the decision is taken under the lock from rows read after it, concurrent remembers of
one customer see each other's writes: two corrections never both stay current, and two
paraphrases arriving at once are merged. The unique index of live content hashes still
settles the exact tier in the INSERT itself (ON CONFLICT), for writers that bypass the store.
Nothing is kept between calls: no process holds a copy of a customer's memories.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import numpy as np
from sqlalchemy import (
    Insert,
    Select,
    Update,
    bindparam,
    case,
    select,
    update,
)

from storage.config import MemoryConfig
from storage.memory import audit, decide, normalize, slots, vector_codec
from storage.memory.binary_results import binary_results
from storage.memory.execution import Plan, Step
from storage.memory.inputs import RememberInput
from storage.memory.models import MemoryRecord, RememberResult
from storage.memory.queries import (
    RECORD_COLUMNS,
    bound_scope,
    insert_for,
    live,
    scope_lock,
    scope_parameters,
    with_ids,
)
from storage.memory.scope import Scope
from storage.memory.tables import memories
from storage.memory_types import SUPERSEDABLE
from storage.sealing import TenantKey


def ttl_for(config: MemoryConfig, content_type: str, ttl_s: int | None) -> int | None:
    if ttl_s is not None:
        return ttl_s
    return config.ttl_s.get(content_type) or config.default_ttl_s


@functools.cache
def _current() -> Select:
    return binary_results(
        select(
            memories.c.id,
            memories.c.content_type,
            memories.c.content_hash,
            memories.c.simhash,
            memories.c.slots,
            memories.c.embedding,
        ).where(bound_scope(), live(bindparam("now")))
    )


@functools.cache
def _contents() -> Select:
    return select(memories.c.id, memories.c.content).where(
        memories.c.id.in_(bindparam("ids", expanding=True))
    )


def _new_row_values() -> dict[str, Any]:
    """One bind parameter per column, named ``v_<column>``."""
    return {column.name: bindparam(f"v_{column.name}", type_=column.type) for column in memories.c}


@functools.cache
def _upsert(backend: str) -> Insert:
    """INSERT, or on the live-hash index refresh a live duplicate / revive an expired one
    (its row is reused as the new memory)."""
    statement = insert_for(backend)(memories).values(_new_row_values())
    new = statement.excluded
    stale = memories.c.expires_at <= new.created_at  # NULL (no TTL) reads as false in CASE
    refreshed = {
        "importance": case(
            (new.importance > memories.c.importance, new.importance), else_=memories.c.importance
        ),
        "access_count": memories.c.access_count + 1,
        "last_accessed_at": new.created_at,
    }
    set_: dict[str, Any] = {
        name: case((stale, getattr(new, name)), else_=value) for name, value in refreshed.items()
    }
    for name in ("session_id", "content", "metadata_json", "created_at", "embedding", "slots"):
        set_[name] = case((stale, getattr(new, name)), else_=memories.c[name])
    set_["reinforced_at"] = new.reinforced_at
    set_["expires_at"] = new.expires_at
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "user_id", "content_type", "content_hash"],
        index_where=memories.c.deleted_at.is_(None) & memories.c.superseded_by.is_(None),
        set_=set_,
    ).returning(*RECORD_COLUMNS)


@functools.cache
def _refresh() -> Update:
    return (
        update(memories)
        .where(memories.c.id == bindparam("target_id"), live(bindparam("now")))
        .values(
            importance=case(
                (memories.c.importance < bindparam("new_importance"), bindparam("new_importance")),
                else_=memories.c.importance,
            ),
            access_count=memories.c.access_count + 1,
            reinforced_at=bindparam("now"),
            last_accessed_at=bindparam("now"),
            expires_at=bindparam("new_expires_at"),
        )
        .returning(*RECORD_COLUMNS)
    )


@functools.cache
def _supersede(backend: str) -> Update:
    return (
        update(memories)
        .where(
            bound_scope(),
            with_ids(backend),
            live(bindparam("now")),
            memories.c.content_type.in_(SUPERSEDABLE),
        )
        .values(superseded_by=bindparam("new_id"), superseded_at=bindparam("now"))
        .returning(*RECORD_COLUMNS)
    )


def _row(
    scope: Scope,
    request: RememberInput,
    new: decide.NewMemory,
    new_id: str,
    now: float,
    expires_at: float | None,
    key: TenantKey,
) -> dict[str, Any]:
    return {
        "v_id": new_id,
        "v_tenant_id": scope.tenant_id,
        "v_user_id": scope.user_id,
        "v_session_id": scope.session_id,
        "v_content_type": request.content_type,
        "v_content": key.seal_text(request.content),
        "v_content_hash": new.content_hash,
        "v_simhash": normalize.to_signed(new.simhash),
        "v_importance": request.importance,
        "v_access_count": 0,
        "v_metadata_json": key.seal_text(request.metadata_json),
        "v_embedding": None if new.vector is None else key.seal(vector_codec.encode(new.vector)),
        "v_created_at": now,
        "v_reinforced_at": now,
        "v_last_accessed_at": None,
        "v_expires_at": expires_at,
        "v_deleted_at": None,
        "v_superseded_by": None,
        "v_superseded_at": None,
        "v_slots": new.slot_keys,
    }


def remember_plan(
    *,
    scope: Scope,
    request: RememberInput,
    vector: np.ndarray | None,
    config: MemoryConfig,
    backend: str,
    now: float,
    key: TenantKey,
    supersedes: tuple[str, ...] = (),
) -> Plan[RememberResult]:
    """``supersedes``: ids the caller says this memory corrects (e.g. a model's judgement),
    superseded with those the rules find; ignored when the memory is a duplicate. ``key``
    seals what is written and opens what is read (``storage.sealing``)."""
    normal = normalize.normalize(request.content)
    slot_values = slots.recognise(request.content)
    new = decide.NewMemory(
        content=request.content,
        content_type=request.content_type,
        content_hash=key.digest(normal),
        simhash=normalize.simhash(normal, key.hash_key),
        slot_values=slot_values,
        slot_keys=slots.keys(slot_values, key.token),
        vector=vector,
    )
    ttl = ttl_for(config, request.content_type, request.ttl_s)
    expires_at = None if ttl is None else now + ttl
    yield scope_lock(backend, scope)
    rows = yield Step(_current(), "all", {**scope_parameters(scope), "now": now})
    current = decide.Current.read(rows, 0 if vector is None else vector.shape[0], key)
    candidates = decide.shortlist(new, current, config)
    wanted = candidates.ids()
    sealed = (yield Step(_contents(), "all", {"ids": wanted})) if wanted else []
    texts = {i: text for i, value in sealed if (text := key.open_text(value)) is not None}
    decision = decide.decide(new, candidates, texts)

    if decision.duplicate is not None:
        refreshed = yield Step(
            _refresh(),
            "one",
            {
                "target_id": decision.duplicate,
                "new_importance": request.importance,
                "now": now,
                "new_expires_at": expires_at,
            },
        )
        memory = MemoryRecord.from_row(refreshed, key)
        yield audit.written([audit.scoped(scope, "dedup", memory.id, now, tier=decision.tier)])
        return RememberResult(memory, True, decision.tier, memory.id)

    new_id = uuid.uuid4().hex
    row = yield Step(
        _upsert(backend), "one", _row(scope, request, new, new_id, now, expires_at, key)
    )
    memory = MemoryRecord.from_row(row, key)
    if memory.id != new_id and memory.access_count > 0:
        # A live row this scope's read could not see: written around the store.
        yield audit.written([audit.scoped(scope, "dedup", memory.id, now, tier="exact")])
        return RememberResult(memory, True, "exact", memory.id)
    superseded: tuple[MemoryRecord, ...] = ()
    replacing = [i for i in dict.fromkeys(decision.superseded + supersedes) if i != memory.id]
    if replacing:
        replaced = yield Step(
            _supersede(backend),
            "all",
            {
                **scope_parameters(scope),
                "ids": replacing,
                "new_id": memory.id,
                "now": now,
            },
        )
        superseded = tuple(
            m for old in replaced if (m := MemoryRecord.opened(old, key)) is not None
        )
    entries = [audit.scoped(scope, "remember", memory.id, now)] + [
        audit.scoped(scope, "supersede", old.id, now, superseded_by=memory.id) for old in superseded
    ]
    yield audit.written(entries)
    return RememberResult(memory=memory, deduped=False, superseded=superseded)
