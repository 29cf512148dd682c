"""Migrations upgrade and downgrade cleanly on SQLite and Postgres."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from storage import migrate
from storage.config import DatabaseConfig
from storage.engine import Database

MEMORY_TABLES = {"memories", "memory_simhash_bands", "memory_audit"}


def test_upgrade_downgrade_upgrade_round_trip(empty_database_url: str) -> None:
    database = Database(DatabaseConfig(url=empty_database_url))
    try:
        migrate.upgrade(database, "0001_memory")
        assert set(inspect(database.engine).get_table_names()) >= MEMORY_TABLES
        assert migrate.current_revisions(database) == {"0001_memory"}
        indexes = {i["name"] for i in inspect(database.engine).get_indexes("memories")}
        assert "uq_memories_live_hash" in indexes

        migrate.downgrade(database, "base")
        assert not MEMORY_TABLES & set(inspect(database.engine).get_table_names())
        assert migrate.current_revisions(database) == set()

        migrate.upgrade(database)
        assert migrate.current_revisions(database) == migrate.head_revisions()
        migrate.downgrade(database, "base")
    finally:
        database.dispose()


def test_ensure_schema_migrates_the_embedded_sqlite_default(sqlite_url: str) -> None:
    database = Database(DatabaseConfig(url=sqlite_url))
    try:
        migrate.ensure_schema(database)
        assert migrate.current_revisions(database) == migrate.head_revisions()
        migrate.ensure_schema(database)
    finally:
        database.dispose()


def test_ensure_schema_never_migrates_postgres_or_opted_out_sqlite(
    empty_database_url: str,
) -> None:
    # auto_migrate stays True for Postgres: it is never migrated at start-up regardless.
    auto = empty_database_url.startswith("postgresql")
    database = Database(DatabaseConfig(url=empty_database_url, auto_migrate=auto))
    try:
        with pytest.raises(migrate.SchemaNotReadyError, match="support-agent migrate"):
            migrate.ensure_schema(database)
        assert migrate.current_revisions(database) == set()
    finally:
        database.dispose()
