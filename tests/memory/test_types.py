"""Memory types: one list, its TTLs applied by remember, unknown types refused before any I/O."""

from __future__ import annotations

import time

import pytest

from storage.config import MemoryConfig
from storage.memory import InvalidMemoryInputError, MemoryStore, Scope
from storage.memory_types import CONTENT_TYPES, DAY, default_ttls


def test_the_config_takes_its_ttls_from_the_one_list() -> None:
    assert MemoryConfig().ttl_s == default_ttls()
    assert set(default_ttls()) == set(CONTENT_TYPES)


@pytest.mark.parametrize(
    ("content_type", "ttl"),
    [("fact", None), ("identifier", 365 * DAY), ("issue", 90 * DAY), ("episode", 30 * DAY)],
)
def test_remember_applies_the_type_ttl(
    store: MemoryStore, scope: Scope, content_type: str, ttl: int | None
) -> None:
    before = time.time()
    memory = store.remember(scope, f"a {content_type} to keep", content_type=content_type).memory
    if ttl is None:
        assert memory.expires_at is None
    else:
        assert memory.expires_at is not None
        assert before + ttl <= memory.expires_at <= time.time() + ttl


def test_unknown_types_are_refused_for_remember_and_recall(
    store: MemoryStore, scope: Scope
) -> None:
    with pytest.raises(InvalidMemoryInputError, match="not a memory type"):
        store.remember(scope, "a fact", content_type="gossip")
    with pytest.raises(InvalidMemoryInputError, match="not a memory type"):
        store.recall(scope, "q", content_types=["gossip"])
    found = store.recall(scope, "q", content_types=["identifier", "issue"])
    assert found == []


def test_no_supersedes_makes_an_issue_or_an_episode_untrue(
    store: MemoryStore, scope: Scope
) -> None:
    """A model's ``replaces`` (the tool) reaches only types the rules may replace too."""
    issue = store.remember(scope, "the parcel arrived damaged", content_type="issue").memory
    episode = store.remember(scope, "asked for a refund on Monday", content_type="episode").memory
    old_fact = store.remember(scope, "I live in Seattle").memory

    result = store.remember(
        scope, "I now live in Portland", supersedes=[issue.id, episode.id, old_fact.id]
    )

    assert [old.id for old in result.superseded] == [old_fact.id]
    states = {m["id"]: m["state"] for m in store.export(scope.tenant_id, scope.user_id)["memories"]}
    assert states == {
        issue.id: "live",
        episode.id: "live",
        old_fact.id: "superseded",
        result.memory.id: "live",
    }
