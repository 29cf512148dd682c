"""remember(): dedup tiers, cheapest first, in one transaction.

1. exact: the INSERT itself. ``ON CONFLICT (tenant, user, type, sha256) DO UPDATE`` on the
   partial unique index of live rows lets the database settle concurrent inserts of one fact
   (Postgres and SQLite alike); the conflicting branch refreshes the existing memory, or, when
   that row is past its TTL, revives it in place as a new memory.
2. near: the fresh row's SimHash bands are looked up by equality (an index, never a scan) and
   candidates within the Hamming radius that mention the same numbers count as duplicates
   (on short texts "order 1001" and "order 1002" are a few bits apart).
3. semantic: cosine of the new embedding against the scope's live embeddings of that type,
   at or above the threshold and only if both texts mention the same numbers.
A tier-2/3 duplicate deletes the just-inserted row before commit (nobody ever saw it; its
bands go with it by ON DELETE CASCADE) and refreshes the existing memory instead. Every
outcome writes an audit entry. Statements are built once per backend with bind parameters.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import (
    Delete,
    Insert,
    Select,
    Update,
    and_,
    bindparam,
    case,
    delete,
    or_,
    select,
    update,
)

from storage.config import MemoryConfig
from storage.memory import audit, normalize, vector_codec
from storage.memory.execution import Plan, Step
from storage.memory.inputs import RememberInput
from storage.memory.models import DedupTier, MemoryRecord, RememberResult
from storage.memory.queries import (
    RECORD_COLUMNS,
    Vectors,
    bound_scope,
    insert_for,
    live,
    scope_parameters,
    vector_select,
)
from storage.memory.scope import Scope
from storage.memory.tables import bands, memories

SEMANTIC_CANDIDATES = 3


@dataclass(frozen=True, slots=True)
class Fingerprint:
    content_hash: str
    simhash: int
    bands: list[int]

    @classmethod
    def of(cls, content: str) -> Fingerprint:
        normal = normalize.normalize(content)
        simhash = normalize.simhash(normal)
        return cls(normalize.content_hash(normal), simhash, normalize.bands(simhash))


def new_row_parameters(
    scope: Scope,
    request: RememberInput,
    fingerprint: Fingerprint,
    vector: np.ndarray | None,
    new_id: str,
    now: float,
    expires_at: float | None,
) -> dict[str, Any]:
    return {
        "v_id": new_id,
        "v_tenant_id": scope.tenant_id,
        "v_user_id": scope.user_id,
        "v_session_id": scope.session_id,
        "v_content_type": request.content_type,
        "v_content": request.content,
        "v_content_hash": fingerprint.content_hash,
        "v_simhash": normalize.to_signed(fingerprint.simhash),
        "v_importance": request.importance,
        "v_access_count": 0,
        "v_metadata_json": request.metadata_json,
        "v_embedding": None if vector is None else vector_codec.encode(vector),
        "v_created_at": now,
        "v_reinforced_at": now,
        "v_last_accessed_at": None,
        "v_expires_at": expires_at,
        "v_deleted_at": None,
    }


def pick_near(candidates: Any, content: str, fingerprint: Fingerprint, radius: int) -> str | None:
    """Closest (id, simhash, content) candidate within the radius that has the same numbers."""
    best: tuple[int, str] | None = None
    for memory_id, simhash, other in candidates:
        distance = normalize.hamming(simhash, fingerprint.simhash)
        if distance > radius or not normalize.same_numbers(content, other):
            continue
        if best is None or distance < best[0]:
            best = (distance, memory_id)
    return None if best is None else best[1]


def above_threshold(
    ids: list[str], matrix: np.ndarray, vector: np.ndarray, threshold: float
) -> list[str]:
    """Up to SEMANTIC_CANDIDATES ids at or above the threshold, most similar first."""
    if not ids:
        return []
    similarities = matrix @ vector
    above = np.flatnonzero(similarities >= threshold)
    best_first = above[np.argsort(-similarities[above])][:SEMANTIC_CANDIDATES]
    return [ids[i] for i in best_first]


def same_numbers_first(content: str, texts: dict[str, str], ordered: list[str]) -> str | None:
    for memory_id in ordered:
        if normalize.same_numbers(content, texts.get(memory_id, "")):
            return memory_id
    return None


def ttl_for(config: MemoryConfig, content_type: str, ttl_s: int | None) -> int | None:
    if ttl_s is not None:
        return ttl_s
    return config.ttl_s.get(content_type) or config.default_ttl_s


def new_row_values() -> dict[str, Any]:
    """One bind parameter per column, named ``v_<column>`` (see ``new_row_parameters``)."""
    return {column.name: bindparam(f"v_{column.name}", type_=column.type) for column in memories.c}


@functools.cache
def _upsert(backend: str) -> Insert:
    return upserting(insert_for(backend)(memories).values(new_row_values()))


def upserting(statement: Insert) -> Insert:
    """ON CONFLICT DO UPDATE on the live-hash index: refresh a live duplicate, revive an
    expired one (its row is reused as the new memory)."""
    new = statement.excluded
    # Past its TTL; a NULL expires_at compares as NULL, which CASE takes as false. Written
    # without ``expired()``'s IS NOT NULL so the statement stays short: psycopg caches the
    # parsing of statements up to 4 KiB only, and the Postgres write embeds this one.
    stale = memories.c.expires_at <= new.created_at
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
    for name in ("session_id", "content", "metadata_json", "created_at", "embedding"):
        set_[name] = case((stale, getattr(new, name)), else_=memories.c[name])
    # Refreshed and revived rows alike take the new values.
    set_["reinforced_at"] = new.reinforced_at
    set_["expires_at"] = new.expires_at
    return statement.on_conflict_do_update(
        index_elements=["tenant_id", "user_id", "content_type", "content_hash"],
        index_where=memories.c.deleted_at.is_(None),
        set_=set_,
    ).returning(*RECORD_COLUMNS)


@functools.cache
def _near_candidates() -> Select:
    band_match = [
        and_(bands.c.band == index, bands.c.value == bindparam(f"band{index}"))
        for index in range(len(normalize.BAND_WIDTHS))
    ]
    return (
        select(memories.c.id, memories.c.simhash, memories.c.content)
        .distinct()
        .select_from(bands.join(memories, memories.c.id == bands.c.memory_id))
        .where(
            bands.c.tenant_id == bindparam("scope_tenant"),
            bands.c.user_id == bindparam("scope_user"),
            bands.c.content_type == bindparam("type"),
            or_(*band_match),
            memories.c.id != bindparam("own_id"),
            live(bindparam("now")),
        )
    )


@functools.cache
def _semantic_candidates() -> Select:
    return vector_select(
        bound_scope(),
        memories.c.content_type == bindparam("type"),
        memories.c.id != bindparam("own_id"),
        live(bindparam("now")),
    )


@functools.cache
def _contents() -> Select:
    return select(memories.c.id, memories.c.content).where(
        memories.c.id.in_(bindparam("ids", expanding=True))
    )


@functools.cache
def _delete_own() -> Delete:
    return delete(memories).where(memories.c.id == bindparam("own_id"))


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
def _insert_bands(backend: str) -> Insert:
    return insert_for(backend)(bands).on_conflict_do_nothing()


def remember_plan(
    *,
    scope: Scope,
    request: RememberInput,
    vector: np.ndarray | None,
    config: MemoryConfig,
    backend: str,
    now: float,
) -> Plan[RememberResult]:
    fingerprint = Fingerprint.of(request.content)
    ttl = ttl_for(config, request.content_type, request.ttl_s)
    expires_at = None if ttl is None else now + ttl
    new_id = uuid.uuid4().hex
    row = yield Step(
        _upsert(backend),
        "one",
        new_row_parameters(scope, request, fingerprint, vector, new_id, now, expires_at),
    )
    memory = MemoryRecord.from_row(row)
    if memory.id != new_id and memory.access_count > 0:
        return (yield from _merged(scope, memory, "exact", now))

    lookup = {
        **scope_parameters(scope),
        "type": request.content_type,
        "own_id": memory.id,
        "now": now,
    }
    duplicate = yield from _near_duplicate(lookup, request.content, fingerprint, config)
    tier: DedupTier = "near"
    if duplicate is None and vector is not None and config.semantic_dedup:
        duplicate = yield from _semantic_duplicate(lookup, request.content, vector, config)
        tier = "semantic"
    if duplicate is not None:
        yield Step(_delete_own(), "rowcount", {"own_id": memory.id})
        refreshed = yield Step(
            _refresh(),
            "one",
            {
                "target_id": duplicate,
                "new_importance": request.importance,
                "now": now,
                "new_expires_at": expires_at,
            },
        )
        return (yield from _merged(scope, MemoryRecord.from_row(refreshed), tier, now))

    band_rows = [
        {
            "memory_id": memory.id,
            "band": index,
            "value": value,
            "tenant_id": scope.tenant_id,
            "user_id": scope.user_id,
            "content_type": request.content_type,
        }
        for index, value in enumerate(fingerprint.bands)
    ]
    yield Step(_insert_bands(backend), "rowcount", band_rows)
    yield Step(audit.insert_entry(), "rowcount", audit.scoped(scope, "remember", memory.id, now))
    return RememberResult(memory=memory, deduped=False)


def _near_duplicate(
    lookup: dict[str, Any], content: str, fingerprint: Fingerprint, config: MemoryConfig
) -> Plan[str | None]:
    if config.simhash_radius == 0:
        return None
    band_values = {f"band{index}": value for index, value in enumerate(fingerprint.bands)}
    candidates = yield Step(_near_candidates(), "all", {**lookup, **band_values})
    return pick_near(candidates, content, fingerprint, config.simhash_radius)


def _semantic_duplicate(
    lookup: dict[str, Any],
    content: str,
    vector: np.ndarray,
    config: MemoryConfig,
) -> Plan[str | None]:
    rows = yield Step(
        _semantic_candidates(),
        "all",
        {**lookup, "width": vector_codec.width(vector.shape[0])},
    )
    vectors = Vectors.read(rows, vector.shape[0])
    above = above_threshold(vectors.ids, vectors.matrix, vector, config.semantic_threshold)
    if not above:
        return None
    texts = dict((yield Step(_contents(), "all", {"ids": above})))
    return same_numbers_first(content, texts, above)


def _merged(
    scope: Scope, memory: MemoryRecord, tier: DedupTier, now: float
) -> Plan[RememberResult]:
    yield Step(
        audit.insert_entry(), "rowcount", audit.scoped(scope, "dedup", memory.id, now, tier=tier)
    )
    return RememberResult(memory=memory, deduped=True, dedup_tier=tier, duplicate_of=memory.id)
