"""Failures leave nothing half-written and no connection behind."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import uuid
from typing import Any

import psycopg
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import Engine, event, func, select

from storage import migrate
from storage.config import DatabaseConfig, MemoryConfig
from storage.engine import Database
from storage.memory import (
    EmbeddingFailedError,
    InvalidMemoryInputError,
    MemoryStorageError,
    MemoryStore,
    Scope,
)
from storage.memory.tables import audit, memories


class FlakyEmbeddings(DeterministicFakeEmbedding):
    """Fails on demand, like a remote embedding API would."""

    failing: bool = False

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.failing:
            raise ConnectionError("embedding endpoint unreachable")
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if self.failing:
            raise ConnectionError("embedding endpoint unreachable")
        return super().embed_query(text)


def inject(engines: list[Engine], should_fail: Any) -> None:
    """Make chosen statements fail inside the driver, as a dropped connection would."""

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if should_fail(statement):
            error = (
                sqlite3.OperationalError
                if conn.dialect.name == "sqlite"
                else psycopg.OperationalError
            )
            raise error("injected failure")

    for engine in engines:
        event.listen(engine, "before_cursor_execute", before)


def counts(database: Database, tenant_id: str) -> tuple[int, int]:
    with database.transaction() as connection:
        return (
            connection.execute(
                select(func.count()).where(memories.c.tenant_id == tenant_id)
            ).scalar_one(),
            connection.execute(
                select(func.count()).where(audit.c.tenant_id == tenant_id)
            ).scalar_one(),
        )


def test_a_failure_mid_remember_writes_nothing(memory_database: Database, scope: Scope) -> None:
    store = MemoryStore(memory_database, DeterministicFakeEmbedding(size=384), MemoryConfig())
    # The audit entry is the last write of the one transaction, after the memory's INSERT.
    inject(memory_database.engines, lambda sql: "INSERT INTO memory_audit" in sql)
    with pytest.raises(MemoryStorageError, match="nothing was written") as error:
        store.remember(scope, "card 4111 1111 1111 1111 expires 12/30")
    assert error.value.retryable
    assert "4111" not in str(error.value)
    assert counts(memory_database, scope.tenant_id) == (0, 0)


def test_embedding_failure_and_bad_input_write_nothing(
    memory_database: Database, scope: Scope
) -> None:
    embeddings = FlakyEmbeddings(size=384)
    store = MemoryStore(memory_database, embeddings, MemoryConfig())
    embeddings.failing = True
    with pytest.raises(EmbeddingFailedError, match="ConnectionError"):
        store.remember(scope, "a fact")
    with pytest.raises(InvalidMemoryInputError):
        store.remember(scope, "\x00\x01")
    assert counts(memory_database, scope.tenant_id) == (0, 0)


def _our_connections(admin_url: str, application_name: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone()[0]


@pytest.fixture
def admin_url(postgres_url: str) -> str:
    return postgres_url.replace("postgresql+psycopg://", "postgresql://")


async def test_a_thousand_operations_with_injected_failures_leak_no_connection(
    postgres_url: str, admin_url: str
) -> None:
    application_name = f"memleak-{uuid.uuid4().hex[:8]}"
    baseline = _our_connections(admin_url, application_name)
    database = Database(
        DatabaseConfig(
            url=postgres_url, application_name=application_name, pool_size=3, max_overflow=2
        )
    )
    migrate.upgrade(database)
    embeddings = FlakyEmbeddings(size=384)
    store = MemoryStore(database, embeddings, MemoryConfig())
    chance = random.Random(7)
    inject(
        database.engines,
        lambda sql: (
            not sql.startswith(("SELECT pg_", "select pg_", "show ", "BEGIN"))
            and chance.random() < 0.1
        ),
    )
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    outcomes: dict[str, int] = {}
    remembered: list[tuple[Scope, str]] = []
    for i in range(1000):
        scope = Scope(tenant, f"user-{i % 7}")
        embeddings.failing = chance.random() < 0.05
        kind = chance.choice(["remember", "aremember", "recall", "arecall", "forget", "bad"])
        try:
            if kind == "remember":
                remembered.append(
                    (scope, store.remember(scope, f"fact {i % 40} of the user").memory.id)
                )
            elif kind == "aremember":
                result = await store.aremember(scope, f"fact {i % 40} of the user")
                remembered.append((scope, result.memory.id))
            elif kind == "recall":
                store.recall(scope, "fact of the user")
            elif kind == "arecall":
                await store.arecall(scope, "fact of the user")
            elif kind == "forget" and remembered:
                owner, memory_id = remembered[chance.randrange(len(remembered))]
                store.forget(owner, memory_id)
            else:
                store.remember(scope, "x" * 10_000)
            outcomes["ok"] = outcomes.get("ok", 0) + 1
        except (MemoryStorageError, EmbeddingFailedError, InvalidMemoryInputError) as error:
            outcomes[type(error).__name__] = outcomes.get(type(error).__name__, 0) + 1
    embeddings.failing = False

    assert outcomes.get("MemoryStorageError", 0) > 50
    assert outcomes.get("EmbeddingFailedError", 0) > 10
    assert outcomes.get("ok", 0) > 400
    status = database.pool_status()
    pools = [status[kind] for kind in ("sync", "async", "sync_autocommit", "async_autocommit")]
    assert [pool["checked_out"] for pool in pools] == [0, 0, 0, 0]
    assert _our_connections(admin_url, application_name) <= len(database.engines) * (3 + 2)

    await database.adispose()
    # A closed connection's backend leaves pg_stat_activity a moment after the client hangs up.
    for _ in range(100):
        if _our_connections(admin_url, application_name) == baseline:
            break
        await asyncio.sleep(0.05)
    assert _our_connections(admin_url, application_name) == baseline

    clean = Database(DatabaseConfig(url=postgres_url))
    try:
        with clean.transaction() as connection:
            live = (
                connection.execute(select(memories.c.id).where(memories.c.tenant_id == tenant))
                .scalars()
                .all()
            )
            audited = set(
                connection.execute(
                    select(audit.c.memory_id).where(
                        audit.c.tenant_id == tenant, audit.c.action == "remember"
                    )
                ).scalars()
            )
        assert live, "some memories were stored"
        assert set(live) <= audited, "every stored memory has its audit entry"
    finally:
        clean.dispose()


def _terminate_backends(admin_url: str, application_name: str) -> int:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            (application_name,),
        ).fetchone()[0]


@pytest.mark.parametrize("pre_ping", [False, True])
def test_connections_killed_by_the_server_cost_at_most_one_retryable_call_per_pool(
    postgres_url: str, admin_url: str, scope: Scope, pre_ping: bool
) -> None:
    """A server restart (here: every backend of ours terminated) with pre-ping off fails
    the first call through the pool, retryably and without writing, then the pool is
    fresh; with it on, none."""
    application_name = f"restart-{uuid.uuid4().hex[:8]}"
    database = Database(
        DatabaseConfig(url=postgres_url, application_name=application_name, pool_pre_ping=pre_ping)
    )
    migrate.upgrade(database)
    store = MemoryStore(database, DeterministicFakeEmbedding(size=384), MemoryConfig())
    try:
        store.remember(scope, "ships to Lisbon")
        assert _terminate_backends(admin_url, application_name) >= 1

        errors: list[MemoryStorageError] = []
        for fact in ("pays by card", "prefers email", "lives in Porto"):
            try:
                store.remember(scope, fact)
            except MemoryStorageError as error:
                errors.append(error)
        assert len(errors) == (0 if pre_ping else 1)
        assert all(error.retryable for error in errors)
        clean = Database(DatabaseConfig(url=postgres_url))
        assert counts(clean, scope.tenant_id)[0] == 4 - len(errors)
        clean.dispose()
    finally:
        database.dispose()
