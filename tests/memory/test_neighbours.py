"""``aneighbours``: what a new fact may correct, read without counting a use, on both backends.

The correction judge reads a customer's closest current memories of one type before it asks a
model; the lookup must never bump access counts (recall does: a look is not a use), never
cross types, scopes or liveness, and rank by similarity alone.
"""

from __future__ import annotations

import pytest

from storage.config import MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import InvalidMemoryInputError, MemoryStore, Scope


@pytest.fixture
def real_store(memory_database: Database, local_embeddings: LocalOnnxEmbeddings) -> MemoryStore:
    return MemoryStore(memory_database, local_embeddings, MemoryConfig())


async def _counts(store: MemoryStore, scope: Scope) -> dict[str, int]:
    exported = await store.aexport(scope.tenant_id, scope.user_id)
    return {m["content"]: m["access_count"] for m in exported["memories"]}


async def test_the_closest_current_memories_of_one_type_without_counting_access(
    real_store: MemoryStore, scope: Scope
) -> None:
    seattle = await real_store.aremember(scope, "I live in Seattle")
    await real_store.aremember(scope, "I have a dog", importance=1.0)
    await real_store.aremember(scope, "I'm allergic to latex")
    await real_store.aremember(scope, "Preference: I live in Seattle", content_type="preference")
    await real_store.aremember(scope, "Reported issue: I live in Seattle", content_type="issue")
    before = await _counts(real_store, scope)

    found = await real_store.aneighbours(
        scope, "I now live in Portland", content_type="fact", limit=2, min_similarity=0.0
    )

    assert [hit.memory.content for hit in found] == ["I live in Seattle", "I have a dog"]
    assert found[0].memory.id == seattle.memory.id
    assert 0.5 < found[0].score < 0.8, "the cosine itself, not weighted by importance"
    assert found[0].score > found[1].score
    assert await _counts(real_store, scope) == before


async def test_the_floor_scope_and_liveness_bound_the_candidates(
    real_store: MemoryStore, scope: Scope
) -> None:
    other = Scope(scope.tenant_id, "user-2")
    await real_store.aremember(other, "I live in Seattle")
    old = await real_store.aremember(scope, "My address is 12 Oak Street, Portland 97201")
    await real_store.aremember(scope, "I moved to 48 Pine Avenue, Salem 97301")  # supersedes
    forgotten = await real_store.aremember(scope, "I live in Seattle")
    assert await real_store.aforget(scope, forgotten.memory.id)
    await real_store.aremember(scope, "I'm allergic to latex")

    found = await real_store.aneighbours(
        scope, "I now live in Portland", content_type="fact", limit=5, min_similarity=0.4
    )

    contents = [hit.memory.content for hit in found]
    assert contents == ["I moved to 48 Pine Avenue, Salem 97301"]
    assert old.memory.id not in {hit.memory.id for hit in found}
    assert all(hit.score > 0.4 for hit in found)


async def test_bad_input_is_refused_before_any_io(real_store: MemoryStore, scope: Scope) -> None:
    with pytest.raises(InvalidMemoryInputError, match="content_types"):
        await real_store.aneighbours(scope, "I live in Seattle", content_type="diary")
    with pytest.raises(InvalidMemoryInputError, match="min_similarity"):
        await real_store.aneighbours(
            scope, "I live in Seattle", content_type="fact", min_similarity=1.5
        )
