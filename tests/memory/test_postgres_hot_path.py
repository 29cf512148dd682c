"""Postgres hot path: the vector fetches of remember and recall travel in binary format, sync
and async, with the same answers as text; the hot statements fit psycopg's parse cache."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from langchain_core.embeddings import DeterministicFakeEmbedding
from psycopg.pq import Format
from sqlalchemy import event
from sqlalchemy.dialects import postgresql

from storage.config import DatabaseConfig, MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore, Scope, binary_results, vector_codec
from storage.memory.queries import width_parameters
from storage.memory.recall import _fetch, _touch
from storage.memory.remember import _current, _refresh, _supersede, _upsert

DIMENSION = 384
# psycopg keeps the parsed form of statements up to this length (``MAX_CACHED_STATEMENT_LENGTH``
# in psycopg/_queries.py, 3.3, not public API); longer ones are parsed again on every call.
PARSE_CACHE_LIMIT = 4096


def record_formats(database: Database) -> list[Format]:
    """Result format of every statement that asked for binary results."""
    formats: list[Format] = []

    def after(_conn: Any, cursor: Any, _sql: str, _params: Any, context: Any, _many: bool) -> None:
        if context.execution_options.get(binary_results.OPTION):
            formats.append(getattr(cursor, "_cursor", cursor).format)

    for engine in database.engines:
        event.listen(engine, "after_cursor_execute", after)
    return formats


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


async def test_vector_fetches_are_binary_sync_and_async(
    postgres_database: Database, scope: Scope
) -> None:
    store = MemoryStore(
        postgres_database, DeterministicFakeEmbedding(size=DIMENSION), MemoryConfig()
    )
    formats = record_formats(postgres_database)
    first = store.remember(scope, "ships to Lisbon", embedding=unit(1))
    second = await store.aremember(scope, "pays by card", embedding=unit(2))
    assert not first.deduped
    assert not second.deduped

    found = store.recall(scope, "q", query_embedding=unit(1), limit=2)
    afound = await store.arecall(scope, "q", query_embedding=unit(2), limit=2)

    assert found[0].memory.id == first.memory.id
    assert afound[0].memory.id == second.memory.id
    # Each remember reads its scope under the lock (nothing is cached), then two recalls.
    assert formats == [Format.BINARY] * 4


def test_binary_and_text_fetches_return_the_same_vectors(
    postgres_database: Database, scope: Scope
) -> None:
    store = MemoryStore(
        postgres_database, DeterministicFakeEmbedding(size=DIMENSION), MemoryConfig()
    )
    for seed in range(5):
        store.remember(scope, f"fact number {seed}", embedding=unit(seed))
    parameters = {
        "scope_tenant": scope.tenant_id,
        "scope_user": scope.user_id,
        "now": time.time(),
        **width_parameters(DIMENSION),
    }
    plain = Database(DatabaseConfig(url=postgres_database.config.url))
    text_formats = record_formats(plain)
    try:
        with plain.engine.connect() as connection:
            as_text = sorted(connection.execute(_fetch(False), parameters).all())
    finally:
        plain.dispose()
    with postgres_database.engine.connect() as connection:
        as_binary = sorted(connection.execute(_fetch(False), parameters).all())

    assert text_formats == [Format.TEXT]
    assert len(as_binary) == 5
    assert [len(row[1]) for row in as_binary] == [vector_codec.width(DIMENSION)] * 5
    assert [tuple(row) for row in as_binary] == [tuple(row) for row in as_text]


def test_hot_statements_fit_psycopgs_parse_cache() -> None:
    """Longer statements are re-parsed in Python on every call (~0.1-0.2 ms each)."""
    dialect = postgresql.psycopg.dialect()
    for statement in (
        _current(),
        _upsert("postgresql"),
        _refresh(),
        _supersede("postgresql"),
        _fetch(False),
        _touch("postgresql"),
    ):
        assert len(str(statement.compile(dialect=dialect))) <= PARSE_CACHE_LIMIT
