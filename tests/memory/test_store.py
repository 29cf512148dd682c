"""The memory store on real SQLite and Postgres: dedup tiers, recall, forget, TTL, sweep."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import func, select, update

from storage.config import MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore, Scope
from storage.memory.tables import audit, memories


def rows_of(database: Database, scope: Scope, *, live_only: bool = False) -> int:
    query = select(func.count()).where(
        memories.c.tenant_id == scope.tenant_id, memories.c.user_id == scope.user_id
    )
    if live_only:
        query = query.where(memories.c.deleted_at.is_(None))
    with database.transaction() as connection:
        return connection.execute(query).scalar_one()


def audit_actions(database: Database, scope: Scope) -> list[tuple[str, str]]:
    with database.transaction() as connection:
        return [
            (row.action, row.detail)
            for row in connection.execute(
                select(audit.c.action, audit.c.detail)
                .where(audit.c.tenant_id == scope.tenant_id, audit.c.user_id == scope.user_id)
                .order_by(audit.c.id)
            )
        ]


def age(database: Database, memory_id: str, **values: float) -> None:
    """Move a memory's clock-dependent columns into the past (time passing, without sleeping)."""
    with database.transaction() as connection:
        connection.execute(update(memories).where(memories.c.id == memory_id).values(**values))


@pytest.mark.parametrize(
    "variant",
    [
        "the customer prefers EMAIL",
        "  The   customer prefers email.  ",
        "The customer prefers email!!!",
        "The customer prefers email?",
        "ＴＨＥ customer prefers email",
    ],
)
def test_case_whitespace_and_trailing_punctuation_variants_dedup_exactly(
    store: MemoryStore, scope: Scope, variant: str
) -> None:
    first = store.remember(scope, "The customer prefers email", importance=0.3)
    again = store.remember(scope, variant, importance=0.9)
    assert again.deduped
    assert again.dedup_tier == "exact"
    assert again.duplicate_of == first.memory.id == again.memory.id
    assert again.memory.importance == 0.9
    assert again.memory.access_count == 1
    assert again.memory.content == "The customer prefers email"
    assert rows_of(store.database, scope) == 1
    assert [action for action, _ in audit_actions(store.database, scope)] == ["remember", "dedup"]
    assert json.loads(audit_actions(store.database, scope)[1][1]) == {"tier": "exact"}


def test_near_duplicate_found_through_simhash(store: MemoryStore, scope: Scope) -> None:
    first = store.remember(scope, "The customer lives in Paris, France; ships to the office")
    near = store.remember(scope, "The customer lives in Paris France - ships to the office")
    assert near.deduped
    assert near.dedup_tier == "near"
    assert near.duplicate_of == first.memory.id
    assert rows_of(store.database, scope) == 1


def test_different_facts_and_different_types_are_kept(store: MemoryStore, scope: Scope) -> None:
    store.remember(scope, "Order 1001 was delivered")
    assert not store.remember(scope, "Order 1001 was lost").deduped
    assert not store.remember(scope, "Order 1001 was delivered", content_type="episode").deduped
    assert rows_of(store.database, scope) == 3


def test_recall_ranks_by_relevance_and_importance_and_counts_access(
    store: MemoryStore, scope: Scope
) -> None:
    query = [1.0, 0.0, 0.0]
    # Pairwise cosines stay under the semantic threshold, so none of these merge.
    strong = store.remember(scope, "strong match", importance=0.9, embedding=[1.0, 0.3, 0.0])
    weak = store.remember(scope, "weak importance", importance=0.1, embedding=[1.0, -0.3, 0.3])
    store.remember(scope, "opposite direction", importance=1.0, embedding=[-1.0, 0.0, 0.0])
    old = store.remember(scope, "old but important", importance=0.9, embedding=[1.0, -0.2, -0.5])
    age(store.database, old.memory.id, reinforced_at=time.time() - 60 * 86_400)

    found = store.recall(scope, "anything", query_embedding=query, limit=5)
    assert [hit.memory.id for hit in found] == [strong.memory.id, old.memory.id, weak.memory.id]
    assert found[0].score > found[1].score > found[2].score > 0
    assert all(hit.memory.access_count == 1 for hit in found)
    assert found[0].memory.last_accessed_at is not None
    assert store.recall(scope, "x", query_embedding=query, limit=1)[0].memory.id == strong.memory.id


def test_recall_filters_content_types(store: MemoryStore, scope: Scope) -> None:
    store.remember(scope, "a fact", embedding=[1.0, 0.0])
    episode = store.remember(scope, "an episode", content_type="episode", embedding=[1.0, 0.0])
    found = store.recall(scope, "q", content_types=["episode"], query_embedding=[1.0, 0.0])
    assert [hit.memory.id for hit in found] == [episode.memory.id]


def test_forget_hides_at_once_and_only_for_the_owner(store: MemoryStore, scope: Scope) -> None:
    kept = store.remember(scope, "keep me", embedding=[1.0, 0.2])
    gone = store.remember(scope, "forget me", embedding=[0.2, 1.0])
    stranger = Scope(scope.tenant_id, "someone-else")
    assert store.forget(stranger, gone.memory.id) is False
    assert store.forget(scope, gone.memory.id) is True
    assert store.forget(scope, gone.memory.id) is False
    found = store.recall(scope, "q", query_embedding=[1.0, 1.0])
    assert [hit.memory.id for hit in found] == [kept.memory.id]
    again = store.remember(scope, "forget me", embedding=[0.2, 1.0])
    assert not again.deduped, "a forgotten memory is never a dedup target"
    assert ("forget", "{}") in audit_actions(store.database, scope)


def test_expired_is_invisible_before_the_sweep_and_gone_after(
    store: MemoryStore, scope: Scope
) -> None:
    lasting = store.remember(scope, "lasting fact", embedding=[1.0, 0.0])
    brief = store.remember(scope, "brief episode", content_type="session", embedding=[1.0, 0.0])
    assert brief.memory.expires_at is not None
    age(store.database, brief.memory.id, expires_at=time.time() - 1)

    found = store.recall(scope, "q", query_embedding=[1.0, 0.0])
    assert [hit.memory.id for hit in found] == [lasting.memory.id]
    assert rows_of(store.database, scope) == 2

    assert store.sweep() >= 1
    assert rows_of(store.database, scope) == 1
    assert store.sweep() == 0
    assert ("sweep", '{"reason":"expired"}') in audit_actions(store.database, scope)


def test_an_expired_exact_duplicate_comes_back_as_a_new_memory(
    store: MemoryStore, scope: Scope
) -> None:
    first = store.remember(scope, "temporary note", ttl_s=60, metadata={"v": 1})
    age(store.database, first.memory.id, expires_at=time.time() - 1)
    again = store.remember(scope, "Temporary note.", ttl_s=60, metadata={"v": 2})
    assert not again.deduped
    assert again.memory.content == "Temporary note."
    assert again.memory.metadata == {"v": 2}
    assert again.memory.access_count == 0
    assert again.memory.expires_at is not None
    assert again.memory.expires_at > time.time()
    store.sweep()
    assert rows_of(store.database, scope) == 1, "the revived row is not swept"


def test_sweep_removes_forgotten_text_after_the_grace_period(
    memory_database: Database, scope: Scope
) -> None:
    store = MemoryStore(
        memory_database, DeterministicFakeEmbedding(size=384), MemoryConfig(forget_grace_s=3600)
    )
    memory = store.remember(scope, "forgotten soon")
    store.forget(scope, memory.memory.id)
    store.sweep()
    assert rows_of(memory_database, scope) == 1, "inside the grace period the row stays"
    age(memory_database, memory.memory.id, deleted_at=time.time() - 3601)
    store.sweep()
    assert rows_of(memory_database, scope) == 0


def test_concurrent_sweepers_delete_each_row_once(store: MemoryStore, scope: Scope) -> None:
    ids = [store.remember(scope, f"episode {i}", ttl_s=60).memory.id for i in range(60)]
    with store.database.transaction() as connection:
        connection.execute(
            update(memories).where(memories.c.id.in_(ids)).values(expires_at=time.time() - 1)
        )
    with ThreadPoolExecutor(4) as pool:
        counts = list(pool.map(lambda _: store.sweep(batch_size=7), range(4)))
    assert sum(counts) == 60
    assert rows_of(store.database, scope) == 0


def test_export_is_json_with_every_state(store: MemoryStore, scope: Scope) -> None:
    live = store.remember(scope, "live one", metadata={"source": "chat"})
    gone = store.remember(scope, "forgotten one")
    store.forget(scope, gone.memory.id)
    exported = json.loads(json.dumps(store.export(scope.tenant_id, scope.user_id)))
    states = {m["id"]: m["state"] for m in exported["memories"]}
    assert states == {live.memory.id: "live", gone.memory.id: "forgotten"}
    assert exported["memories"][0]["metadata"] == {"source": "chat"}
    assert "embedding" not in exported["memories"][0]
    assert [entry["action"] for entry in exported["audit"]] == ["remember", "remember", "forget"]


def test_sql_injection_strings_are_stored_verbatim_and_harmless(
    store: MemoryStore, scope: Scope
) -> None:
    payloads = [
        "Robert'); DROP TABLE memories;--",
        "' OR '1'='1",
        "%' OR user_id LIKE '%",
        "1; DELETE FROM memory_audit WHERE 1=1",
        "\"; UPDATE memories SET tenant_id = 'x' --",
    ]
    stored = [store.remember(scope, text, metadata={"q": text}) for text in payloads]
    assert [s.memory.content for s in stored] == payloads
    for text in payloads:
        assert store.recall(scope, text, limit=1)[0].memory.content == text
    exported = store.export(scope.tenant_id, scope.user_id)["memories"]
    assert sorted(m["content"] for m in exported) == sorted(payloads)
    assert all(m["metadata"] == {"q": m["content"]} for m in exported)
    assert rows_of(store.database, scope) == len(payloads)
    assert len(audit_actions(store.database, scope)) == len(payloads)


async def test_async_api_matches_the_sync_one(store: MemoryStore, scope: Scope) -> None:
    first = await store.aremember(scope, "async fact", embedding=[1.0, 0.0])
    again = await store.aremember(scope, "ASYNC fact!", embedding=[1.0, 0.0])
    assert again.deduped
    assert again.duplicate_of == first.memory.id
    found = await store.arecall(scope, "q", query_embedding=[1.0, 0.0])
    assert [hit.memory.id for hit in found] == [first.memory.id]
    assert await store.aforget(scope, first.memory.id)
    assert await store.arecall(scope, "q", query_embedding=[1.0, 0.0]) == []
    exported = await store.aexport(scope.tenant_id, scope.user_id)
    assert exported["memories"][0]["state"] == "forgotten"
    assert (await store.apurge(scope.tenant_id, scope.user_id))["memories"] == 1
    assert await store.asweep() >= 0
