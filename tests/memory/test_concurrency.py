"""One fact remembered 50 times at once, from threads and processes, leaves one row."""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import func, select

from storage.config import DatabaseConfig, MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore, Scope
from storage.memory.tables import audit, memories

FACT = "The customer's preferred carrier is DHL"
VARIANTS = [FACT, FACT.upper(), f"  {FACT}. ", f"{FACT}!"]


def _remember_many(url: str, tenant: str, count: int, start_at: float) -> list[tuple[str, bool]]:
    """Runs in a child process: its own engine, several threads, released at one instant."""
    database = Database(DatabaseConfig(url=url))
    store = MemoryStore(database, DeterministicFakeEmbedding(size=384), MemoryConfig())
    scope = Scope(tenant, "user-1")
    time.sleep(max(0.0, start_at - time.time()))
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(lambda i: store.remember(scope, VARIANTS[i % len(VARIANTS)]), range(count))
            )
        return [(r.memory.id, r.deduped) for r in results]
    finally:
        database.dispose()


def test_fifty_concurrent_remembers_from_threads_and_processes_leave_one_row(
    memory_database: Database, database_url: str, scope: Scope
) -> None:
    start_at = time.time() + 2.0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as processes:
        children = [
            processes.submit(_remember_many, database_url, scope.tenant_id, 20, start_at)
            for _ in range(2)
        ]
        mine = _remember_many(database_url, scope.tenant_id, 10, start_at)
        results = mine + [pair for child in children for pair in child.result()]

    assert len(results) == 50
    assert len({memory_id for memory_id, _ in results}) == 1
    assert sum(not deduped for _, deduped in results) == 1
    with memory_database.transaction() as connection:
        rows = connection.execute(
            select(memories.c.access_count).where(memories.c.tenant_id == scope.tenant_id)
        ).all()
        actions = connection.execute(
            select(audit.c.action, func.count())
            .where(audit.c.tenant_id == scope.tenant_id)
            .group_by(audit.c.action)
        ).all()
    assert [row.access_count for row in rows] == [49]
    assert dict(actions) == {"remember": 1, "dedup": 49}


async def test_fifty_concurrent_async_remembers_leave_one_row(
    store: MemoryStore, scope: Scope
) -> None:
    results = await asyncio.gather(
        *(store.aremember(scope, VARIANTS[i % len(VARIANTS)]) for i in range(50))
    )
    assert len({r.memory.id for r in results}) == 1
    assert sum(not r.deduped for r in results) == 1


def _correct_phone(url: str, tenant: str, worker: int, start_at: float) -> list[int]:
    """Runs in a child process: four threads each give the customer another phone number."""
    database = Database(DatabaseConfig(url=url))
    store = MemoryStore(database, DeterministicFakeEmbedding(size=384), MemoryConfig())
    scope = Scope(tenant, "user-1")
    time.sleep(max(0.0, start_at - time.time()))
    try:
        with ThreadPoolExecutor(4) as pool:
            results = list(
                pool.map(
                    lambda i: store.remember(
                        scope,
                        f"My phone number is 503-555-{worker}{i:03d}",
                        content_type="identifier",
                    ),
                    range(4),
                )
            )
        return [len(r.superseded) for r in results]
    finally:
        database.dispose()


def test_concurrent_corrections_from_processes_leave_one_current_fact(
    memory_database: Database, database_url: str, scope: Scope
) -> None:
    """Each remember decides under the customer's lock, so every correction sees the last one."""
    start_at = time.time() + 2.0
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as processes:
        children = [
            processes.submit(_correct_phone, database_url, scope.tenant_id, worker, start_at)
            for worker in (1, 2)
        ]
        mine = _correct_phone(database_url, scope.tenant_id, 3, start_at)
        superseded = mine + [count for child in children for count in child.result()]

    with memory_database.transaction() as connection:
        rows = connection.execute(
            select(memories.c.superseded_by).where(memories.c.tenant_id == scope.tenant_id)
        ).all()
    assert len(rows) == 12
    assert sum(row.superseded_by is None for row in rows) == 1
    assert sorted(superseded) == [0] + [1] * 11
