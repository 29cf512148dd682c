"""remember() on Postgres in two round trips: one read, one single-statement write.

The generic plan (``remember.py``) needs about seven round trips with BEGIN and COMMIT; on
Postgres each costs a network hop and a backend wake-up, which is what makes an insert
through a session several times dearer than a bare one. Here:
1. one autocommit SELECT returns the near-duplicate candidates (found through the SimHash
   band index, as JSON) and the scope's vectors (aggregated, for the semantic tier; not
   sent at all when the unique index already holds the exact duplicate);
2. one autocommit statement writes: either the upsert with its bands and audit entry in
   data-modifying CTEs, or the refresh of the duplicate with its audit entry.
A single statement is its own transaction, so nothing is ever half-written. The exact tier
is still settled by the unique index inside the write (ON CONFLICT), so concurrent inserts
of one fact stay one row; near and semantic decisions are taken from the read, as in the
generic plan (a duplicate that appears between the read and the write is kept, not lost).
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any

import numpy as np
from sqlalchemy import (
    Float,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert

from storage.config import MemoryConfig
from storage.memory import normalize, vector_codec
from storage.memory.binary_results import binary_results
from storage.memory.execution import Plan, Step
from storage.memory.inputs import RememberInput
from storage.memory.models import DedupTier, MemoryRecord, RememberResult
from storage.memory.queries import bound_scope, live, scope_parameters
from storage.memory.remember import (
    Fingerprint,
    _contents,
    _refresh,
    _upsert,
    above_threshold,
    new_row_parameters,
    pick_near,
    same_numbers_first,
    ttl_for,
)
from storage.memory.scope import Scope
from storage.memory.tables import audit as audit_table
from storage.memory.tables import bands, memories

AUDIT_COLUMNS = ["at", "tenant_id", "user_id", "session_id", "action", "memory_id", "detail"]


@functools.cache
def _lookup() -> Select:
    band_match = [
        and_(bands.c.band == index, bands.c.value == bindparam(f"band{index}"))
        for index in range(len(normalize.BAND_WIDTHS))
    ]
    near = (
        select(
            func.json_agg(
                func.json_build_array(
                    memories.c.id, memories.c.simhash, memories.c.content_hash, memories.c.content
                )
            )
        )
        .select_from(bands.join(memories, memories.c.id == bands.c.memory_id))
        .where(
            bands.c.tenant_id == bindparam("scope_tenant"),
            bands.c.user_id == bindparam("scope_user"),
            bands.c.content_type == bindparam("type"),
            or_(*band_match),
            live(bindparam("now")),
        )
        .scalar_subquery()
    )
    same = memories.alias("same")
    exact_exists = (
        select(literal(1))
        .where(
            same.c.tenant_id == bindparam("scope_tenant"),
            same.c.user_id == bindparam("scope_user"),
            same.c.content_type == bindparam("type"),
            same.c.content_hash == bindparam("hash"),
            same.c.deleted_at.is_(None),
            or_(same.c.expires_at.is_(None), same.c.expires_at > bindparam("now")),
        )
        .exists()
    )
    statement = select(
        func.array_agg(memories.c.id),
        func.string_agg(memories.c.embedding, literal_column("''::bytea")),
        near,
    ).where(
        bound_scope(),
        memories.c.content_type == bindparam("type"),
        live(bindparam("now")),
        memories.c.embedding.is_not(None),
        func.length(memories.c.embedding) == bindparam("width"),
        # An exact duplicate (one unique-index probe) needs no vectors: skip the transfer.
        ~exact_exists,
    )
    return binary_results(statement)


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
def _insert() -> Select:
    """Upsert + bands + audit entry in one statement."""
    written = _upsert("postgresql").cte("written")
    fresh = written.c.access_count == 0
    values = union_all(
        *(
            select(
                literal_column(str(index), Integer).label("band"),
                bindparam(f"band{index}", type_=Integer).label("value"),
            )
            for index in range(len(normalize.BAND_WIDTHS))
        )
    ).subquery("band_values")
    band_rows = (
        pg_insert(bands)
        .from_select(
            ["memory_id", "band", "value", "tenant_id", "user_id", "content_type"],
            select(
                written.c.id,
                values.c.band,
                values.c.value,
                written.c.tenant_id,
                written.c.user_id,
                written.c.content_type,
            )
            .select_from(written.join(values, true()))
            .where(fresh),
        )
        .on_conflict_do_nothing()
        .cte("band_rows")
    )
    entry = _audit_from(
        written,
        case((fresh, literal("remember")), else_=literal("dedup")),
        case((fresh, literal("{}")), else_=literal('{"tier":"exact"}')),
    ).cte("entry")
    return select(*written.c).add_cte(band_rows).add_cte(entry)


@functools.cache
def _merge() -> Select:
    """Refresh of a near/semantic duplicate + its audit entry in one statement."""
    refreshed = _refresh().cte("refreshed")
    entry = _audit_from(refreshed, literal("dedup"), bindparam("audit_detail")).cte("entry")
    return select(*refreshed.c).add_cte(entry)


def remember_plan_postgres(
    *,
    scope: Scope,
    request: RememberInput,
    vector: np.ndarray | None,
    config: MemoryConfig,
    now: float,
) -> Plan[RememberResult]:
    fingerprint = Fingerprint.of(request.content)
    ttl = ttl_for(config, request.content_type, request.ttl_s)
    expires_at = None if ttl is None else now + ttl
    bands_ = {f"band{index}": value for index, value in enumerate(fingerprint.bands)}
    semantic = vector is not None and config.semantic_dedup
    ids, blob, near = yield Step(
        _lookup(),
        "one",
        {
            **scope_parameters(scope),
            **bands_,
            "type": request.content_type,
            "hash": fingerprint.content_hash,
            "now": now,
            "width": vector_codec.width(vector.shape[0]) if semantic and vector is not None else -1,
        },
    )
    target, tier = None, None
    candidates = near or []
    if not any(candidate[2] == fingerprint.content_hash for candidate in candidates):
        if config.simhash_radius:
            triples = [(c[0], c[1], c[3]) for c in candidates]
            target = pick_near(triples, request.content, fingerprint, config.simhash_radius)
            tier = "near"
        if target is None and semantic and ids and vector is not None:
            matrix = vector_codec.decode(blob, len(ids), vector.shape[0])
            above = above_threshold(list(ids), matrix, vector, config.semantic_threshold)
            if above:
                texts = dict((yield Step(_contents(), "all", {"ids": above})))
                target, tier = same_numbers_first(request.content, texts, above), "semantic"

    audit_scope = {"audit_session": scope.session_id, "now": now}
    if target is not None:
        merged = yield Step(
            _merge(),
            "one",
            {
                **audit_scope,
                "target_id": target,
                "new_importance": request.importance,
                "new_expires_at": expires_at,
                "audit_detail": json.dumps({"tier": tier}, separators=(",", ":")),
            },
        )
        if merged is not None:
            record = MemoryRecord.from_row(merged)
            dedup_tier: DedupTier = "near" if tier == "near" else "semantic"
            return RememberResult(record, True, dedup_tier, record.id)

    new_id = uuid.uuid4().hex
    row = yield Step(
        _insert(),
        "one",
        {
            **new_row_parameters(scope, request, fingerprint, vector, new_id, now, expires_at),
            **bands_,
            **audit_scope,
        },
    )
    record = MemoryRecord.from_row(row)
    if record.access_count == 0:
        return RememberResult(memory=record, deduped=False)
    return RememberResult(record, True, "exact", record.id)
