"""Vectors are stored as float16 (half the bytes per fetch) without moving any decision,
and migration 0003 rewrites existing float32 rows both ways on SQLite and Postgres."""

from __future__ import annotations

import time
import uuid

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import column, insert, select, table

from storage import migrate
from storage.config import DatabaseConfig, MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore, Scope, vector_codec
from storage.memory.tables import memories

DIMENSION = 384


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_stored_vectors_keep_cosine_within_a_thousandth(seed_a: int, seed_b: int) -> None:
    a, b = unit(seed_a), unit(seed_b)
    near = a + 0.3 * b
    near /= np.linalg.norm(near)
    stored = vector_codec.decode(vector_codec.encode(np.stack([a, near])), 2, DIMENSION)
    assert stored.dtype == np.float32
    assert abs(float(stored[0] @ stored[1]) - float(a @ near)) < 1e-3
    assert abs(float(stored[0] @ a) - 1.0) < 1e-3


def test_remember_stores_half_width_vectors(memory_database: Database, scope: Scope) -> None:
    store = MemoryStore(memory_database, DeterministicFakeEmbedding(size=DIMENSION), MemoryConfig())
    result = store.remember(scope, "prefers the night shift", embedding=unit(3))
    with memory_database.transaction() as connection:
        blob = connection.execute(
            select(memories.c.embedding).where(memories.c.id == result.memory.id)
        ).scalar_one()
    assert len(blob) == DIMENSION * 2
    found = store.recall(scope, "q", query_embedding=unit(3))
    assert [hit.memory.id for hit in found] == [result.memory.id]
    assert abs(found[0].score - 0.5) < 1e-3


def _float32_row(vector: np.ndarray, tenant: str) -> dict[str, object]:
    now = time.time()
    return {
        "id": uuid.uuid4().hex,
        "tenant_id": tenant,
        "user_id": "user-1",
        "session_id": None,
        "content_type": "fact",
        "content": "written before 0003",
        "content_hash": uuid.uuid4().hex,
        "simhash": 0,
        "importance": 0.5,
        "access_count": 0,
        "metadata_json": "{}",
        "embedding": vector.astype("<f4").tobytes(),
        "created_at": now,
        "reinforced_at": now,
        "last_accessed_at": None,
        "expires_at": None,
        "deleted_at": None,
    }


# The table as revision 0002 created it (today's model has columns added since).
OLD_MEMORIES = table(
    "memories",
    *(column(name) for name in _float32_row(np.zeros(1, np.float32), "t")),
)


def test_migration_0003_rewrites_float32_rows_both_ways(empty_database_url: str) -> None:
    database = Database(DatabaseConfig(url=empty_database_url))
    try:
        migrate.upgrade(database, "0002_crm_tickets")
        vectors = [unit(seed) for seed in range(3)]
        rows = [_float32_row(vector, "t-migrated") for vector in vectors]
        with database.transaction() as connection:
            connection.execute(insert(OLD_MEMORIES), rows)
            connection.execute(
                insert(OLD_MEMORIES),
                {**rows[0], "id": uuid.uuid4().hex, "embedding": None, "content_hash": "x"},
            )

        migrate.upgrade(database, "0003_memory_float16_vectors")
        with database.transaction() as connection:
            blobs = dict(connection.execute(select(memories.c.id, memories.c.embedding)).all())
        for row, vector in zip(rows, vectors, strict=True):
            assert blobs[row["id"]] == vector_codec.encode(vector)
        migrate.upgrade(database)  # the rows are read by today's store as they were written
        store = MemoryStore(database, DeterministicFakeEmbedding(size=DIMENSION), MemoryConfig())
        found = store.recall(
            Scope("t-migrated", "user-1"), "q", query_embedding=vectors[1], limit=1
        )
        assert [hit.memory.id for hit in found] == [rows[1]["id"]]

        migrate.downgrade(database, "0002_crm_tickets")
        with database.transaction() as connection:
            blobs = dict(connection.execute(select(memories.c.id, memories.c.embedding)).all())
        for row, vector in zip(rows, vectors, strict=True):
            restored = np.frombuffer(blobs[row["id"]], dtype="<f4")
            np.testing.assert_allclose(restored, vector, atol=1e-3)
        assert sorted(blob is None for blob in blobs.values()) == [False, False, False, True]
    finally:
        database.dispose()
