"""Tool-pack fixtures: a migrated database, a memory store and the caller's runtime config."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import var_child_runnable_config

from storage import migrate
from storage.config import DatabaseConfig, MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore


@pytest.fixture
def tools_database(sqlite_url: str) -> Iterator[Database]:
    database = Database(DatabaseConfig(url=sqlite_url))
    migrate.upgrade(database)
    yield database
    database.dispose()


@pytest.fixture
def memory_store(tools_database: Database) -> MemoryStore:
    return MemoryStore(tools_database, DeterministicFakeEmbedding(size=384), MemoryConfig())


def _caller(tenant: str | None = None, user: str = "alice") -> RunnableConfig:
    return {
        "configurable": {
            "tenant_id": tenant or f"t-{uuid.uuid4().hex[:10]}",
            "user_id": user,
            "thread_id": "thread-1",
        }
    }


@pytest.fixture
def caller() -> Callable[..., RunnableConfig]:
    """``caller(tenant=None, user="alice")``: the runtime config of one caller."""
    return _caller


@pytest.fixture
def as_caller() -> Iterator[RunnableConfig]:
    """Runs the test as a graph node would: the caller's config in LangChain's context."""
    config = _caller()
    token = var_child_runnable_config.set(config)
    yield config
    var_child_runnable_config.reset(token)
