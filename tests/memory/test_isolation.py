"""No interleaving of tenants and users ever shows one user another user's memory.

Ids include the ("foo",) / ("foobar",) prefix trap and the LIKE metacharacters % and _.
"""

from __future__ import annotations

import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from storage.memory import MemoryStore, Scope

TENANTS = ["foo", "foobar", "fo%", "f_o", "foo_"]
USERS = ["u", "u1", "u%", "u_", "_"]
operations = st.lists(
    st.tuples(
        st.sampled_from(["remember", "recall", "forget", "export"]),
        st.sampled_from(TENANTS),
        st.sampled_from(USERS),
        st.integers(min_value=0, max_value=5),
    ),
    min_size=5,
    max_size=25,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(steps=operations)
def test_random_interleavings_never_cross_scopes(store: MemoryStore, steps: list) -> None:
    run = uuid.uuid4().hex[:8]
    owned: dict[tuple[str, str], set[str]] = {}
    texts: list[str] = []
    for action, tenant_name, user, index in steps:
        scope = Scope(f"{run}{tenant_name}", user)
        mine = owned.setdefault((scope.tenant_id, user), set())
        if action == "remember":
            text = f"fact {index} about shipping"
            texts.append(text)
            mine.add(store.remember(scope, text).memory.id)
        elif action == "recall" and texts:
            # Query with text another scope stored, to tempt a leak with a perfect match.
            found = store.recall(scope, texts[index % len(texts)], limit=50)
            assert {hit.memory.id for hit in found} <= mine
            assert all(
                (hit.memory.tenant_id, hit.memory.user_id) == (scope.tenant_id, user)
                for hit in found
            )
        elif action == "forget":
            others = set().union(*owned.values()) - mine
            for memory_id in sorted(others)[:2]:
                assert store.forget(scope, memory_id) is False
        elif action == "export":
            exported = store.export(scope.tenant_id, user)
            assert {m["id"] for m in exported["memories"]} == mine


@pytest.mark.parametrize(("tenant", "user"), [("foo", "u"), ("foo", "u%")])
def test_prefix_and_wildcard_ids_see_only_themselves(
    store: MemoryStore, tenant: str, user: str
) -> None:
    run = uuid.uuid4().hex[:8]
    target = Scope(f"{run}{tenant}", user)
    neighbours = [
        Scope(f"{run}foobar", "u"),
        Scope(f"{run}{tenant}", f"{user}x"),
        Scope(f"{run}{tenant}", "u_"),
        Scope(f"{run}fo%", "u"),
    ]
    for neighbour in neighbours:
        store.remember(neighbour, "the secret of a neighbour")
    assert store.recall(target, "the secret of a neighbour") == []
    assert store.export(target.tenant_id, target.user_id)["memories"] == []
    assert store.purge(target.tenant_id, target.user_id)["memories"] == 0
    for neighbour in neighbours:
        assert len(store.recall(neighbour, "the secret of a neighbour")) == 1
