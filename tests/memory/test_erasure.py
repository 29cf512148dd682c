"""Purge leaves the user's text nowhere; the audit trail never holds content."""

from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import MetaData, select

from storage.engine import Database
from storage.memory import MemoryStore, Scope


def places_holding(database: Database, needle: str) -> list[str]:
    """Every (table.column) of every table in the database whose value contains ``needle``."""
    metadata = MetaData()
    metadata.reflect(database.engine)
    found = []
    with database.transaction() as connection:
        for table in metadata.sorted_tables:
            for row in connection.execute(select(table)):
                for column, value in row._mapping.items():
                    if isinstance(value, bytes | bytearray | memoryview):
                        hit = needle.encode() in bytes(value)
                    else:
                        hit = value is not None and needle in str(value)
                    if hit:
                        found.append(f"{table.name}.{column}")
    return found


def test_purge_leaves_the_sentinel_in_no_column_of_any_table(
    store: MemoryStore, scope: Scope
) -> None:
    sentinel = f"SENTINEL{uuid.uuid4().hex}"
    neighbour = Scope(scope.tenant_id, "user-2")
    facts = [f"{sentinel} lives at 1 Main St", f"{sentinel} prefers phone", "plain fact"]
    ids = [store.remember(scope, fact, metadata={"note": sentinel}).memory.id for fact in facts]
    store.remember(scope, f"{sentinel.lower()} LIVES AT 1 main st.")
    store.remember(scope, f"{sentinel} episode", content_type="session")
    store.forget(scope, ids[1])
    store.recall(scope, f"where does {sentinel} live")
    store.remember(neighbour, "the neighbour's own fact")
    assert set(places_holding(store.database, sentinel)) == {
        "memories.content",
        "memories.metadata_json",
    }, "the audit trail never holds content"

    counts = store.purge(scope.tenant_id, scope.user_id)

    assert counts == {"memories": 4, "vectors": 4, "audit_entries": 6}
    assert places_holding(store.database, sentinel) == []
    assert places_holding(store.database, scope.user_id + "'") == []
    assert store.export(scope.tenant_id, scope.user_id)["memories"] == []
    assert len(store.export(neighbour.tenant_id, neighbour.user_id)["memories"]) == 1
    assert store.purge(scope.tenant_id, scope.user_id)["memories"] == 0


def test_purge_on_sqlite_leaves_no_bytes_in_the_files(
    memory_database: Database, store: MemoryStore, scope: Scope
) -> None:
    if memory_database.backend != "sqlite":
        assert places_holding(memory_database, "sqlite-only check") == []
        return
    sentinel = f"SENTINEL{uuid.uuid4().hex}"
    for i in range(30):
        store.remember(scope, f"{sentinel} fact number {i} " + "padding " * 40)
    store.purge(scope.tenant_id, scope.user_id)
    database_file = Path(memory_database.engine.url.database or "")
    for path in database_file.parent.glob(database_file.name + "*"):
        assert sentinel.encode() not in path.read_bytes(), path.name


def test_purge_audit_entry_names_the_subject_only_by_hash(store: MemoryStore, scope: Scope) -> None:
    store.remember(scope, "something")
    store.purge(scope.tenant_id, scope.user_id)
    assert places_holding(store.database, scope.tenant_id) == ["memory_audit.tenant_id"]
