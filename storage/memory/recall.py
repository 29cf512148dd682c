"""recall(): one indexed fetch of the scope's live vectors, numpy ranking, then one UPDATE
that both counts the access and returns the winners' full rows.

The two statements run in autocommit (two round trips instead of five with BEGIN/COMMIT):
neither needs the other's atomicity, and the UPDATE re-checks scope and liveness, so a
memory forgotten in between is neither counted nor returned.

neighbours(): the same fetch, ranked by similarity alone, then a SELECT of the winners in
place of the UPDATE. It is a look at what a new fact may correct (the correction judge's
candidates), not a use of those memories, so it counts no access.
"""

from __future__ import annotations

import functools

import numpy as np
from sqlalchemy import Select, Update, bindparam, func, select, update

from storage.config import MemoryConfig
from storage.memory.binary_results import binary_results
from storage.memory.execution import Plan, Step
from storage.memory.inputs import RecallInput
from storage.memory.models import MemoryRecord, RecalledMemory
from storage.memory.queries import (
    RECORD_COLUMNS,
    Vectors,
    bound_scope,
    live,
    scope_parameters,
    vector_select,
    width_parameters,
    with_ids,
)
from storage.memory.ranking import closest, top_scores
from storage.memory.scope import Scope
from storage.memory.tables import memories
from storage.sealing import TenantKey


@functools.cache
def _fetch(by_type: bool) -> Select:
    conditions = [bound_scope(), live(bindparam("now"))]
    if by_type:
        conditions.append(memories.c.content_type.in_(bindparam("content_types", expanding=True)))
    return binary_results(vector_select(*conditions))


@functools.cache
def _touch(backend: str) -> Update:
    conditions = [bound_scope(), with_ids(backend), live(bindparam("now"))]
    if backend == "postgresql":
        # The only write of a recall is the access count: not worth waiting for a WAL flush
        # on a read path (a crash may lose the last counts, never a memory). Set inside the
        # statement, so it applies to exactly this autocommit transaction.
        conditions.append(func.set_config("synchronous_commit", "off", True) == "off")
    return (
        update(memories)
        .where(*conditions)
        .values(access_count=memories.c.access_count + 1, last_accessed_at=bindparam("now"))
        .returning(*RECORD_COLUMNS)
    )


@functools.cache
def _records() -> Select:
    return select(*RECORD_COLUMNS).where(
        bound_scope(), memories.c.id.in_(bindparam("ids", expanding=True)), live(bindparam("now"))
    )


def _scope_vectors(
    scope: Scope, request: RecallInput, dimension: int, now: float, key: TenantKey
) -> Plan[Vectors]:
    """The scope's live vectors of the requested types, opened: the fetch both plans share."""
    parameters = {**scope_parameters(scope), "now": now, **width_parameters(dimension)}
    if request.content_types:
        parameters["content_types"] = request.content_types
    rows = yield Step(_fetch(bool(request.content_types)), "all", parameters)
    return Vectors.read(rows, dimension, key)


def recall_plan(
    *,
    scope: Scope,
    request: RecallInput,
    query: np.ndarray,
    config: MemoryConfig,
    backend: str,
    now: float,
    key: TenantKey,
) -> Plan[list[RecalledMemory]]:
    vectors = yield from _scope_vectors(scope, request, query.shape[0], now, key)
    ranked = top_scores(vectors, query, now, config.half_life_days * 86_400, request.limit)
    if not ranked:
        return []
    touched = yield Step(
        _touch(backend),
        "all",
        {**scope_parameters(scope), "now": now, "ids": [memory_id for memory_id, _ in ranked]},
    )
    records = {row.id: MemoryRecord.from_row(row, key) for row in touched}
    return [
        RecalledMemory(memory=records[memory_id], score=score)
        for memory_id, score in ranked
        if memory_id in records
    ]


def neighbours_plan(
    *,
    scope: Scope,
    request: RecallInput,
    vector: np.ndarray,
    min_similarity: float,
    now: float,
    key: TenantKey,
) -> Plan[list[RecalledMemory]]:
    """``score`` is the cosine similarity to ``vector``; ``request.query`` is not read again."""
    vectors = yield from _scope_vectors(scope, request, vector.shape[0], now, key)
    ranked = closest(vectors, vector, request.limit, min_similarity)
    if not ranked:
        return []
    found = yield Step(
        _records(),
        "all",
        {**scope_parameters(scope), "now": now, "ids": [memory_id for memory_id, _ in ranked]},
    )
    records = {
        record.id: record for row in found if (record := MemoryRecord.opened(row, key)) is not None
    }
    return [
        RecalledMemory(memory=records[memory_id], score=score)
        for memory_id, score in ranked
        if memory_id in records
    ]
