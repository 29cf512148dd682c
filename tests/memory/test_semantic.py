"""Semantic dedup with the real local embeddings at the default threshold."""

from __future__ import annotations

import pytest

from storage.config import MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import MemoryStore, Scope


@pytest.fixture
def real_store(memory_database: Database, local_embeddings: LocalOnnxEmbeddings) -> MemoryStore:
    return MemoryStore(memory_database, local_embeddings, MemoryConfig())


@pytest.mark.parametrize(
    ("first", "paraphrase"),
    [
        ("My package arrived damaged", "The package I received was damaged"),
        (
            "The customer wants a refund for the blue shirt",
            "The customer asked for a refund on the blue shirt",
        ),
        ("I prefer to be contacted by email.", "I would prefer to be contacted by email."),
    ],
)
def test_a_paraphrase_above_the_threshold_dedups(
    real_store: MemoryStore, scope: Scope, first: str, paraphrase: str
) -> None:
    original = real_store.remember(scope, first)
    again = real_store.remember(scope, paraphrase)
    assert again.deduped
    assert again.dedup_tier == "semantic"
    assert again.duplicate_of == original.memory.id
    assert again.memory.content == first
    exported = real_store.export(scope.tenant_id, scope.user_id)
    assert len(exported["memories"]) == 1
    assert exported["audit"][-1]["detail"] == {"tier": "semantic"}


@pytest.mark.parametrize(
    ("first", "other"),
    [
        ("I prefer to be contacted by email.", "My laptop screen is cracked"),
        ("I live in Berlin", "I live in Munich"),
        ("My order number is 12345", "My order number is 12346"),
        ("Please contact me by email", "Please do not contact me by email"),
    ],
)
def test_a_different_fact_is_kept(
    real_store: MemoryStore, scope: Scope, first: str, other: str
) -> None:
    real_store.remember(scope, first)
    assert not real_store.remember(scope, other).deduped
    assert len(real_store.export(scope.tenant_id, scope.user_id)["memories"]) == 2


def test_recall_finds_the_relevant_memory(real_store: MemoryStore, scope: Scope) -> None:
    for fact in [
        "The customer's dog is called Rex",
        "The customer prefers DHL for deliveries",
        "The customer is allergic to peanuts",
    ]:
        real_store.remember(scope, fact)
    found = real_store.recall(scope, "which shipping carrier should we use?", limit=1)
    assert found[0].memory.content == "The customer prefers DHL for deliveries"
