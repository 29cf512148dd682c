"""Postgres remember decides from in-process scope snapshots; these prove a stale snapshot
can cost a retry but never a wrong answer, and that a warm one saves the read.

Two stores on one database stand for two processes: each has its own snapshots.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import event, select

from storage.config import MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore, Scope, normalize, remember_postgres
from storage.memory.tables import memories, scope_versions

DIMENSION = 384
IMPORTED_ID = "imported".ljust(32, "0")


def make_store(database: Database, **config: Any) -> MemoryStore:
    return MemoryStore(database, DeterministicFakeEmbedding(size=DIMENSION), MemoryConfig(**config))


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32)
    return vector / np.linalg.norm(vector)


def near(vector: np.ndarray, seed: int) -> np.ndarray:
    """A vector at cosine ~0.97 from ``vector``: a semantic duplicate."""
    moved = vector + 0.25 * unit(seed)
    return moved / np.linalg.norm(moved)


def count_statements(database: Database) -> list[str]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    for engine in database.engines:
        event.listen(engine, "before_cursor_execute", before)
    return statements


def live_rows(database: Database, scope: Scope) -> list[str]:
    with database.engine.connect() as connection:
        return list(
            connection.execute(
                select(memories.c.content).where(
                    memories.c.tenant_id == scope.tenant_id,
                    memories.c.user_id == scope.user_id,
                    memories.c.deleted_at.is_(None),
                )
            ).scalars()
        )


async def test_a_new_fact_in_a_warm_scope_is_one_statement(
    postgres_database: Database, scope: Scope
) -> None:
    store = make_store(postgres_database)
    store.remember(scope, "ships to Lisbon", embedding=unit(1))
    statements = count_statements(postgres_database)

    added = store.remember(scope, "pays by card", embedding=unit(2))
    aadded = await store.aremember(scope, "prefers email", embedding=unit(3))

    assert not added.deduped
    assert not aadded.deduped
    assert len(statements) == 2  # one write each, no read
    assert all(sql.startswith("WITH guard AS") for sql in statements)


def test_a_fact_added_elsewhere_is_seen_through_a_stale_snapshot(
    postgres_database: Database, scope: Scope
) -> None:
    here, elsewhere = make_store(postgres_database), make_store(postgres_database)
    here.remember(scope, "ships to Lisbon", embedding=unit(1))  # warms `here`'s snapshot
    other = elsewhere.remember(scope, "the parcel arrived damaged", embedding=unit(2))

    # `here` still believes the scope holds one memory; its write is refused, it rereads,
    # and finds the semantic duplicate written by the other process.
    result = here.remember(scope, "my parcel came broken", embedding=near(unit(2), 9))

    assert result.deduped
    assert result.dedup_tier == "semantic"
    assert result.duplicate_of == other.memory.id
    assert sorted(live_rows(postgres_database, scope)) == [
        "ships to Lisbon",
        "the parcel arrived damaged",
    ]


def test_a_memory_forgotten_elsewhere_is_not_deduplicated_against(
    postgres_database: Database, scope: Scope
) -> None:
    here, elsewhere = make_store(postgres_database), make_store(postgres_database)
    first = here.remember(scope, "ships to Lisbon", embedding=unit(1))
    assert elsewhere.forget(scope, first.memory.id)

    again = here.remember(scope, "ships to Lisbon", embedding=unit(1))
    near_copy = here.remember(scope, "ships to Lisbon!!", embedding=near(unit(1), 4))

    assert not again.deduped
    assert again.memory.id != first.memory.id
    assert near_copy.duplicate_of == again.memory.id


def test_a_user_purged_elsewhere_leaves_no_trace_in_the_next_decision(
    postgres_database: Database, scope: Scope
) -> None:
    here, elsewhere = make_store(postgres_database), make_store(postgres_database)
    purged = here.remember(scope, "card ending 4242", embedding=unit(5))
    counts = elsewhere.purge(scope.tenant_id, scope.user_id)
    assert counts["memories"] == 1

    result = here.remember(scope, "card ending 4242.", embedding=near(unit(5), 6))

    assert not result.deduped
    assert result.memory.id != purged.memory.id
    assert live_rows(postgres_database, scope) == ["card ending 4242."]


def test_purge_drops_this_process_snapshots_of_the_user(
    postgres_database: Database, scope: Scope
) -> None:
    store = make_store(postgres_database)
    other_user = Scope(scope.tenant_id, "user-2")
    store.remember(scope, "ships to Lisbon", embedding=unit(1))
    store.remember(other_user, "ships to Porto", embedding=unit(2))
    assert len(store.snapshots) == 2

    store.purge(scope.tenant_id, scope.user_id)

    assert len(store.snapshots) == 1  # only the other user's
    with postgres_database.engine.connect() as connection:
        versions = connection.execute(
            select(scope_versions.c.user_id).where(scope_versions.c.tenant_id == scope.tenant_id)
        ).scalars()
        assert list(versions) == ["user-2"]


def test_snapshots_expire_and_can_be_turned_off(postgres_database: Database, scope: Scope) -> None:
    short = make_store(postgres_database, scope_snapshot_ttl_s=0.05)
    off = make_store(postgres_database, scope_snapshot_mib=0)
    statements = count_statements(postgres_database)

    short.remember(scope, "ships to Lisbon", embedding=unit(1))
    time.sleep(0.1)
    short.remember(scope, "pays by card", embedding=unit(2))
    off.remember(scope, "prefers email", embedding=unit(3))
    off.remember(scope, "lives in Porto", embedding=unit(4))

    reads = [sql for sql in statements if not sql.startswith("WITH guard AS")]
    assert len(reads) == 4  # every remember had to read its scope
    assert len(off.snapshots) == 0


def test_an_expired_memory_in_a_snapshot_is_not_a_duplicate(
    postgres_database: Database, scope: Scope
) -> None:
    store = make_store(postgres_database)
    old = store.remember(scope, "call back tomorrow", ttl_s=1, embedding=unit(7))
    time.sleep(1.1)

    result = store.remember(scope, "ring me back tomorrow", embedding=near(unit(7), 8))

    assert not result.deduped
    assert result.memory.id != old.memory.id


def test_the_unguarded_last_attempt_stores_the_fact_when_its_duplicate_is_gone(
    postgres_database: Database, scope: Scope, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After the guarded attempts, a merge into a memory forgotten meanwhile must not lose
    the new fact: it is stored as a memory of its own."""
    here, elsewhere = make_store(postgres_database), make_store(postgres_database)
    first = here.remember(scope, "the parcel arrived damaged", embedding=unit(2))
    assert elsewhere.forget(scope, first.memory.id)
    monkeypatch.setattr(remember_postgres, "GUARDED_ATTEMPTS", 0)  # straight to unguarded

    result = here.remember(scope, "my parcel came broken", embedding=near(unit(2), 9))

    assert not result.deduped
    assert live_rows(postgres_database, scope) == ["my parcel came broken"]


def stored_record(store: MemoryStore, scope: Scope, memory_id: str) -> dict[str, Any]:
    exported = store.export(scope.tenant_id, scope.user_id)["memories"]
    return next(memory for memory in exported if memory["id"] == memory_id)


def test_a_new_memory_is_returned_exactly_as_it_was_stored(
    postgres_database: Database,
) -> None:
    """The warm write returns only the id; the rest of the record comes from the request,
    so it must match the row to the last digit, metadata and TTL included."""
    store = make_store(postgres_database, ttl_s={"episode": 3_600})
    scope = Scope("tenant-1", "user-1", "session-1")
    store.remember(scope, "ships to Lisbon", content_type="episode", embedding=unit(1))

    result = store.remember(
        scope,
        "  Pays by card\x00 ending 4242  ",
        content_type="episode",
        importance=0.7312,
        metadata={"source": "chat", "tags": ("billing", 1.5)},
        embedding=unit(2),
    )

    assert not result.deduped
    returned = result.memory.to_dict()
    assert returned == {key: stored_record(store, scope, result.memory.id)[key] for key in returned}
    assert returned["metadata"] == {"source": "chat", "tags": ["billing", 1.5]}
    assert returned["content"] == "Pays by card ending 4242"


def test_an_expired_memory_revived_by_the_same_fact_is_returned_as_stored(
    postgres_database: Database, scope: Scope
) -> None:
    store = make_store(postgres_database)
    old = store.remember(scope, "call back tomorrow", ttl_s=1, importance=0.9, embedding=unit(7))
    time.sleep(1.1)

    revived = store.remember(scope, "Call back tomorrow.", importance=0.2, embedding=unit(8))

    assert not revived.deduped
    assert revived.memory.id == old.memory.id  # the expired row is reused as the new memory
    assert (revived.memory.content, revived.memory.importance) == ("Call back tomorrow.", 0.2)
    returned = revived.memory.to_dict()
    assert returned == {key: stored_record(store, scope, old.memory.id)[key] for key in returned}


def test_a_row_written_without_the_store_is_still_an_exact_duplicate(
    postgres_database: Database, scope: Scope
) -> None:
    """An import or a manual fix does not move the scope's version, so a warm snapshot
    cannot know the row; the upsert still finds it and the record returned is that row."""
    store = make_store(postgres_database)
    store.remember(scope, "ships to Lisbon", embedding=unit(1))
    with postgres_database.transaction() as connection:
        connection.execute(
            memories.insert().values(
                id=IMPORTED_ID,
                tenant_id=scope.tenant_id,
                user_id=scope.user_id,
                content_type="fact",
                content="Pays by card",
                content_hash=normalize.content_hash(normalize.normalize("Pays by card")),
                simhash=0,
                importance=0.4,
                created_at=1.0,
                reinforced_at=1.0,
            )
        )

    result = store.remember(scope, "pays by card!", embedding=unit(2))

    assert (result.deduped, result.dedup_tier) == (True, "exact")
    assert result.memory.id == IMPORTED_ID
    assert (result.memory.content, result.memory.access_count) == ("Pays by card", 1)
    assert sorted(live_rows(postgres_database, scope)) == ["Pays by card", "ships to Lisbon"]
