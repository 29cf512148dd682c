"""Knowledge-base search: cache first, then embed + nearest chunks under the resilience guard.

The cache sits in front of the guard on purpose: a hit costs one Redis round trip and must
not consume rate-limit or bulkhead capacity meant for the embedding model and Chroma.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import orjson
from langchain_core.embeddings import Embeddings

from storage.cache import VersionedCache
from storage.vectorstore import ScoredChunk, VectorStore
from tools.config import KnowledgeBaseConfig
from tools.errors import DependencyError, InvalidInputError, ToolError

if TYPE_CHECKING:
    from tools.resilience import Resilience

logger = logging.getLogger(__name__)

DEPENDENCY = "knowledge_base"


@dataclass(frozen=True)
class SearchResult:
    source: str
    title: str
    chunk: str
    score: float
    chunk_index: int


def _result(chunk: ScoredChunk) -> SearchResult:
    meta = chunk.metadata
    return SearchResult(
        source=str(meta.get("source", "")),
        title=str(meta.get("title", "")),
        chunk=chunk.text,
        score=round(chunk.score, 4),
        chunk_index=int(meta.get("chunk_index", 0)),
    )


FILTER_FIELDS = frozenset({"source", "title", "format"})


def where_clause(filters: Mapping[str, str | None] | None) -> dict[str, Any] | None:
    """Chroma ``where`` from exact-match filters on chunk metadata (checked before any I/O)."""
    terms = []
    for name, value in (filters or {}).items():
        if name not in FILTER_FIELDS:
            raise InvalidInputError(f"unknown filter {name[:40]!r}: use {sorted(FILTER_FIELDS)}")
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidInputError(f"filter {name!r} must be a string")
        terms.append({name: value})
    if not terms:
        return None
    return terms[0] if len(terms) == 1 else {"$and": terms}


class KnowledgeBase:
    """Search over one ingested collection; sync and async."""

    def __init__(
        self,
        store: VectorStore,
        embeddings: Embeddings,
        config: KnowledgeBaseConfig,
        *,
        cache: VersionedCache | None = None,
        resilience: Resilience | None = None,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.config = config
        self.cache = cache if config.cache_ttl_s > 0 else None
        self._fetch: Callable[..., list[SearchResult]] = self._fetch_uncached
        self._afetch: Callable[..., Any] = self._afetch_uncached
        # The vector store's blocking client runs in the resilience executor, not the loop's
        # default one: a hung Chroma server then ties up that bounded pool only, never the
        # threads local embedding (and everything else using asyncio.to_thread) needs.
        self._run_blocking: Callable[..., Awaitable[Any]] = asyncio.to_thread
        if resilience is not None:
            self._run_blocking = resilience.executor.run
            self._fetch = resilience.guard(DEPENDENCY, operation="search")(self._fetch_uncached)
            self._afetch = resilience.guard(DEPENDENCY, operation="search")(self._afetch_uncached)

    def _checked(self, query: str, k: int | None) -> int:
        if not query.strip():
            raise InvalidInputError("query is empty: ask with a few words describing the problem")
        k = self.config.default_k if k is None else k
        if not 1 <= k <= self.config.max_k:
            raise InvalidInputError(f"k must be between 1 and {self.config.max_k}")
        return k

    def _key(self, query: str, k: int, where: Mapping[str, Any] | None) -> str:
        """The collection and its data generation are part of the key: two collections never
        share an entry, and an embedded store changed by any process misses old entries even
        when the cache itself was not invalidated."""
        return orjson.dumps(
            [self.store.name, self.store.generation(), query, k, where],
            option=orjson.OPT_SORT_KEYS,
        ).decode()

    @staticmethod
    def _encode(results: Sequence[SearchResult]) -> str:
        return orjson.dumps([asdict(r) for r in results]).decode()

    @staticmethod
    def _decode(value: str) -> list[SearchResult]:
        return [SearchResult(**item) for item in orjson.loads(value)]

    def _fetch_uncached(
        self,
        query: str,
        k: int,
        where: Mapping[str, Any] | None,
        query_embedding: Sequence[float] | None,
    ) -> list[SearchResult]:
        try:
            vector = (
                self.embeddings.embed_query(query) if query_embedding is None else query_embedding
            )
            return [_result(c) for c in self.store.search(vector, k, where)]
        except ToolError:
            raise
        except Exception as exc:
            raise DependencyError(
                f"knowledge base search failed ({type(exc).__name__})",
                dependency=DEPENDENCY,
                retryable=True,
            ) from exc

    async def _afetch_uncached(
        self,
        query: str,
        k: int,
        where: Mapping[str, Any] | None,
        query_embedding: Sequence[float] | None,
    ) -> list[SearchResult]:
        try:
            vector = (
                await self.embeddings.aembed_query(query)
                if query_embedding is None
                else query_embedding
            )
            found = await self._run_blocking(self.store.search, vector, k, where)
            return [_result(c) for c in found]
        except ToolError:
            raise
        except Exception as exc:
            raise DependencyError(
                f"knowledge base search failed ({type(exc).__name__})",
                dependency=DEPENDENCY,
                retryable=True,
            ) from exc

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: Mapping[str, str | None] | None = None,
        *,
        query_embedding: Sequence[float] | None = None,
    ) -> list[SearchResult]:
        """The ``k`` chunks closest to ``query``; pass ``query_embedding`` if already computed."""
        k = self._checked(query, k)
        where = where_clause(filters)
        if self.cache is None:
            return self._fetch(query, k, where, query_embedding)
        key = self._key(query, k, where)
        lookup = self.cache.get(key)
        if lookup.value is not None:
            return self._decode(lookup.value)
        results = self._fetch(query, k, where, query_embedding)
        self.cache.set(key, self._encode(results), lookup.version)
        return results

    async def asearch(
        self,
        query: str,
        k: int | None = None,
        filters: Mapping[str, str | None] | None = None,
        *,
        query_embedding: Sequence[float] | None = None,
    ) -> list[SearchResult]:
        k = self._checked(query, k)
        where = where_clause(filters)
        if self.cache is None:
            return await self._afetch(query, k, where, query_embedding)
        key = self._key(query, k, where)
        lookup = await self.cache.aget(key)
        if lookup.value is not None:
            return self._decode(lookup.value)
        results = await self._afetch(query, k, where, query_embedding)
        await self.cache.aset(key, self._encode(results), lookup.version)
        return results
