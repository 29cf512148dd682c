"""Memory-store fixtures: a migrated database per backend and a store with fake embeddings."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import make_url

from storage import migrate
from storage.config import DatabaseConfig, MemoryConfig
from storage.embeddings import LocalOnnxEmbeddings
from storage.engine import Database
from storage.memory import MemoryStore, Scope


async def _migrated(url: str) -> AsyncIterator[Database]:
    database = Database(DatabaseConfig(url=url))
    migrate.upgrade(database)
    yield database
    await database.adispose()


@pytest.fixture
async def memory_database(database_url: str) -> AsyncIterator[Database]:
    async for database in _migrated(database_url):
        yield database


@pytest.fixture
async def postgres_database(postgres_url: str) -> AsyncIterator[Database]:
    """For tests of what only the Postgres plan does (snapshots, binary fetches)."""
    async for database in _migrated(postgres_url):
        yield database


@pytest.fixture
def store(memory_database: Database) -> MemoryStore:
    return MemoryStore(memory_database, DeterministicFakeEmbedding(size=384), MemoryConfig())


@pytest.fixture(scope="session")
def local_embeddings() -> LocalOnnxEmbeddings:
    return LocalOnnxEmbeddings()


@pytest.fixture
def scope() -> Scope:
    """A tenant of this test's own, so tests sharing the Postgres database never meet."""
    return Scope(f"t-{uuid.uuid4().hex[:12]}", "user-1", "session-1")


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database of this test's own, for tests that drop the whole schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    server = make_url(request.getfixturevalue("postgres_server_url"))
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"sa_memtest_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
