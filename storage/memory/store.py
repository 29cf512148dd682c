"""MemoryStore: the sync and async API over the plans in this package.

Each call validates its input first (nothing touches the database for bad input), embeds
outside any transaction (a ~3 ms model call must not hold a connection or SQLite's write
lock), then runs its plan: every write in exactly one transaction, so a failure leaves
nothing behind; recall as two autocommit statements (see ``recall``). The store keeps no
copy of any customer's data between calls. Every call on a tenant's data first reads the
tenant's data key in its own transaction (``storage.sealing``): the plan seals what it writes
and opens what it reads with it (with encryption off, values pass through unchanged).
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np
from langchain_core.embeddings import Embeddings
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from storage import metrics
from storage.config import MemoryConfig
from storage.engine import Database
from storage.memory import binary_results
from storage.memory.erasure import (
    export_plan,
    forget_matching_plan,
    forget_plan,
    purge_plan,
    validate_memory_id,
)
from storage.memory.errors import (
    EmbeddingFailedError,
    InvalidMemoryInputError,
    MemoryStorageError,
)
from storage.memory.execution import Plan, arun, run
from storage.memory.inputs import RecallInput, RememberInput, parse, unit_vector
from storage.memory.models import MemoryRecord, RecalledMemory, RememberResult
from storage.memory.recall import neighbours_plan, recall_plan
from storage.memory.remember import remember_plan
from storage.memory.scope import Scope, validate_id
from storage.memory.sweep import sweep_batch_plan
from storage.sealing import Keyring, SealingError

T = TypeVar("T")
Vector = Sequence[float] | np.ndarray
# A plan still waiting for the tenant's key (``functools.partial`` of a ``*_plan``).
Sealed = Callable[..., Plan[T]]


@contextlib.contextmanager
def _storage_errors(operation: str) -> Iterator[None]:
    """Translate driver errors; the message names the failure class, never the parameters."""
    try:
        yield
    except DBAPIError as exc:
        retryable = isinstance(exc, OperationalError) or exc.connection_invalidated
        cause = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        raise MemoryStorageError(
            f"memory {operation} failed in the database ({cause}); nothing was written",
            retryable=retryable,
        ) from exc
    except PoolTimeoutError as exc:
        raise MemoryStorageError(
            f"memory {operation}: no database connection available in time", retryable=True
        ) from exc
    except SealingError as exc:
        raise MemoryStorageError(f"memory {operation}: {exc.message}", retryable=False) from exc
    except SQLAlchemyError as exc:
        raise MemoryStorageError(
            f"memory {operation} failed ({type(exc).__name__}); nothing was written",
            retryable=False,
        ) from exc


class MemoryStore:
    """Long-term memories of one (tenant, user) at a time; see the package modules for why."""

    def __init__(
        self,
        database: Database,
        embeddings: Embeddings,
        config: MemoryConfig,
        keyring: Keyring | None = None,
    ) -> None:
        self.database = database
        self.embeddings = embeddings
        self.config = config
        self.keyring = keyring or Keyring(None)
        for engine in database.engines:
            binary_results.enable(engine)

    # -- plumbing -------------------------------------------------------------------------

    def _run(self, operation: str, plan: Plan[T]) -> T:
        with _storage_errors(operation), self.database.transaction() as connection:
            return run(connection, plan)

    async def _arun(self, operation: str, plan: Plan[T]) -> T:
        with _storage_errors(operation):
            async with self.database.atransaction() as connection:
                return await arun(connection, plan)

    def _run_keyed(
        self, operation: str, tenant_id: str, plan: Sealed[T], *, autocommit: bool = False
    ) -> T:
        """A plan over one tenant's data, given the tenant's key read in the same connection;
        autocommit for plans whose statements are each atomic on their own (recall)."""
        opened = self.database.autocommit() if autocommit else self.database.transaction()
        with _storage_errors(operation), opened as connection:
            key = self.keyring.key_for(connection, tenant_id, time.time())
            return run(connection, plan(key=key))

    async def _arun_keyed(
        self, operation: str, tenant_id: str, plan: Sealed[T], *, autocommit: bool = False
    ) -> T:
        opened = self.database.aautocommit() if autocommit else self.database.atransaction()
        with _storage_errors(operation):
            async with opened as connection:
                key = await self.keyring.akey_for(connection, tenant_id, time.time())
                return await arun(connection, plan(key=key))

    def _embedded(self, field: str, compute: Any) -> np.ndarray:
        try:
            vector = compute()
        except Exception as exc:
            raise EmbeddingFailedError(
                f"{field}: the embedding model failed ({type(exc).__name__})"
            ) from exc
        return unit_vector(field, vector)

    async def _aembedded(self, field: str, compute: Any) -> np.ndarray:
        try:
            vector = await compute()
        except Exception as exc:
            raise EmbeddingFailedError(
                f"{field}: the embedding model failed ({type(exc).__name__})"
            ) from exc
        return unit_vector(field, vector)

    def _remember_input(
        self,
        content: str,
        content_type: str,
        importance: float,
        metadata: dict[str, Any] | None,
        ttl_s: int | None,
    ) -> RememberInput:
        return parse(
            RememberInput,
            self.config,
            content=content,
            content_type=content_type,
            importance=importance,
            metadata={} if metadata is None else metadata,
            ttl_s=ttl_s,
        )

    def _remember(
        self, scope: Scope, request: RememberInput, vector: np.ndarray, supersedes: Sequence[str]
    ) -> Sealed[RememberResult]:
        checked = tuple(validate_memory_id(memory_id) for memory_id in supersedes)
        return functools.partial(
            remember_plan,
            scope=scope,
            request=request,
            vector=vector,
            config=self.config,
            backend=self.database.backend,
            now=time.time(),
            supersedes=checked,
        )

    def _recall(
        self, scope: Scope, request: RecallInput, query: np.ndarray
    ) -> Sealed[list[RecalledMemory]]:
        return functools.partial(
            recall_plan,
            scope=scope,
            request=request,
            query=query,
            config=self.config,
            backend=self.database.backend,
            now=time.time(),
        )

    def _forget_matching(
        self, scope: Scope, matches: Callable[[str], bool]
    ) -> Sealed[list[MemoryRecord]]:
        return functools.partial(
            forget_matching_plan,
            scope=scope,
            matches=matches,
            now=time.time(),
            backend=self.database.backend,
        )

    def _export(self, tenant_id: str, user_id: str) -> tuple[str, Sealed[dict[str, Any]]]:
        tenant_id = validate_id("tenant_id", tenant_id)
        plan = functools.partial(
            export_plan,
            tenant_id=tenant_id,
            user_id=validate_id("user_id", user_id),
            now=time.time(),
        )
        return tenant_id, plan

    def _purge(self, tenant_id: str, user_id: str) -> Plan[dict[str, int]]:
        return purge_plan(
            tenant_id=validate_id("tenant_id", tenant_id),
            user_id=validate_id("user_id", user_id),
            now=time.time(),
            backend=self.database.backend,
        )

    def _forget(self, scope: Scope, memory_id: str) -> Plan[bool]:
        return forget_plan(
            scope=scope,
            memory_id=validate_memory_id(memory_id),
            now=time.time(),
            backend=self.database.backend,
        )

    def _sweep_batch(self, batch_size: int | None) -> Plan[tuple[int, int]]:
        return sweep_batch_plan(
            batch_size=batch_size or self.config.sweep_batch_size,
            forget_grace_s=self.config.forget_grace_s,
            now=time.time(),
        )

    # -- sync API ------------------------------------------------------------------------

    def remember(
        self,
        scope: Scope,
        content: str,
        *,
        content_type: str = "fact",
        importance: float = 0.5,
        metadata: dict[str, Any] | None = None,
        ttl_s: int | None = None,
        embedding: Vector | None = None,
        supersedes: Sequence[str] = (),
    ) -> RememberResult:
        """Store a memory, or refresh the existing one it duplicates (exact, near, semantic).

        A memory that corrects current ones (same customer attribute, another value; see
        ``decide``) supersedes them, and so do the current memories named in ``supersedes``
        (a caller's or a model's judgement); the result lists them in ``superseded``.
        """
        request = self._remember_input(content, content_type, importance, metadata, ttl_s)
        if embedding is not None:
            vector = unit_vector("embedding", embedding)
        else:
            vector = self._embedded(
                "content", lambda: self.embeddings.embed_documents([request.content])[0]
            )
        plan = self._remember(scope, request, vector, supersedes)
        result = self._run_keyed("remember", scope.tenant_id, plan)
        metrics.remembered(result.dedup_tier)
        return result

    def recall(
        self,
        scope: Scope,
        query: str,
        *,
        content_types: Sequence[str] | None = None,
        limit: int = 5,
        query_embedding: Vector | None = None,
    ) -> list[RecalledMemory]:
        """The scope's live memories ranked by relevance x decayed importance, best first."""
        request = parse(
            RecallInput, self.config, query=query, content_types=_listed(content_types), limit=limit
        )
        if query_embedding is not None:
            vector = unit_vector("query_embedding", query_embedding)
        else:
            vector = self._embedded("query", lambda: self.embeddings.embed_query(request.query))
        plan = self._recall(scope, request, vector)
        return self._run_keyed("recall", scope.tenant_id, plan, autocommit=True)

    def forget(self, scope: Scope, memory_id: str) -> bool:
        """Hide a memory now (soft delete); the sweep erases its text after the grace period."""
        return self._run("forget", self._forget(scope, memory_id))

    def sweep(self, batch_size: int | None = None) -> int:
        """Hard-delete expired and long-forgotten memories in batches; returns rows deleted."""
        total = 0
        size = batch_size or self.config.sweep_batch_size
        while True:
            claimed, deleted = self._run("sweep", self._sweep_batch(size))
            metrics.MEMORIES_REMOVED.labels("swept").inc(deleted)
            total += deleted
            if claimed < size:
                return total

    def export(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        """Everything held about one user, as JSON-safe data (vectors left out: derived data)."""
        tenant_id, plan = self._export(tenant_id, user_id)
        return self._run_keyed("export", tenant_id, plan)

    def purge(self, tenant_id: str, user_id: str) -> dict[str, int]:
        """Erase every row of one user now; returns what was removed, per kind of data."""
        counts = self._run("purge", self._purge(tenant_id, user_id))
        metrics.MEMORIES_REMOVED.labels("purged").inc(counts.get("memories", 0))
        with _storage_errors("purge"):
            self.database.truncate_wal()
        return counts

    # -- async API -----------------------------------------------------------------------

    async def aremember(
        self,
        scope: Scope,
        content: str,
        *,
        content_type: str = "fact",
        importance: float = 0.5,
        metadata: dict[str, Any] | None = None,
        ttl_s: int | None = None,
        embedding: Vector | None = None,
        supersedes: Sequence[str] = (),
    ) -> RememberResult:
        request = self._remember_input(content, content_type, importance, metadata, ttl_s)
        if embedding is not None:
            vector = unit_vector("embedding", embedding)
        else:
            vector = await self._aembedded("content", lambda: self._aembed_one(request.content))
        plan = self._remember(scope, request, vector, supersedes)
        result = await self._arun_keyed("remember", scope.tenant_id, plan)
        metrics.remembered(result.dedup_tier)
        return result

    async def _aembed_one(self, text: str) -> list[float]:
        return (await self.embeddings.aembed_documents([text]))[0]

    async def arecall(
        self,
        scope: Scope,
        query: str,
        *,
        content_types: Sequence[str] | None = None,
        limit: int = 5,
        query_embedding: Vector | None = None,
    ) -> list[RecalledMemory]:
        request = parse(
            RecallInput, self.config, query=query, content_types=_listed(content_types), limit=limit
        )
        if query_embedding is not None:
            vector = unit_vector("query_embedding", query_embedding)
        else:
            vector = await self._aembedded(
                "query", lambda: self.embeddings.aembed_query(request.query)
            )
        plan = self._recall(scope, request, vector)
        return await self._arun_keyed("recall", scope.tenant_id, plan, autocommit=True)

    async def aneighbours(
        self,
        scope: Scope,
        content: str,
        *,
        content_type: str,
        limit: int = 3,
        min_similarity: float = 0.0,
    ) -> list[RecalledMemory]:
        """The scope's current memories of ``content_type`` most similar to ``content`` (cosine
        above ``min_similarity``, as ``score``), closest first.

        What a new fact may correct, for a judge that decides before ``aremember`` and outside
        its lock: read-only (no access is counted, unlike ``arecall``), and ``content`` is
        embedded as ``aremember`` embeds it, so the scores compare like the store's own.
        """
        request = parse(
            RecallInput,
            self.config,
            query=content,
            content_types=[content_type],
            limit=limit,
        )
        if not 0 <= min_similarity < 1:
            raise InvalidMemoryInputError("min_similarity", "must be at least 0 and below 1")
        vector = await self._aembedded("content", lambda: self._aembed_one(request.query))
        plan = functools.partial(
            neighbours_plan,
            scope=scope,
            request=request,
            vector=vector,
            min_similarity=min_similarity,
            now=time.time(),
        )
        return await self._arun_keyed("neighbours", scope.tenant_id, plan, autocommit=True)

    async def aforget(self, scope: Scope, memory_id: str) -> bool:
        return await self._arun("forget", self._forget(scope, memory_id))

    async def aforget_matching(
        self, scope: Scope, matches: Callable[[str], bool]
    ) -> list[MemoryRecord]:
        """Forget (soft delete) every current memory whose text ``matches``; returns them, so
        the caller can tell the customer what was forgotten ("forget my phone number")."""
        plan = self._forget_matching(scope, matches)
        return await self._arun_keyed("forget", scope.tenant_id, plan)

    async def asweep(self, batch_size: int | None = None) -> int:
        total = 0
        size = batch_size or self.config.sweep_batch_size
        while True:
            claimed, deleted = await self._arun("sweep", self._sweep_batch(size))
            metrics.MEMORIES_REMOVED.labels("swept").inc(deleted)
            total += deleted
            if claimed < size:
                return total

    async def aexport(self, tenant_id: str, user_id: str) -> dict[str, Any]:
        tenant_id, plan = self._export(tenant_id, user_id)
        return await self._arun_keyed("export", tenant_id, plan)

    async def apurge(self, tenant_id: str, user_id: str) -> dict[str, int]:
        counts = await self._arun("purge", self._purge(tenant_id, user_id))
        metrics.MEMORIES_REMOVED.labels("purged").inc(counts.get("memories", 0))
        with _storage_errors("purge"):
            await self.database.atruncate_wal()
        return counts


def _listed(content_types: Sequence[str] | None) -> list[str] | None:
    if content_types is None or isinstance(content_types, list):
        return content_types
    if isinstance(content_types, str):
        return [content_types]
    return list(content_types)
