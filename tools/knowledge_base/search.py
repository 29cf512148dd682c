"""Knowledge-base search: cache first, then retrieval under the resilience guard.

The cache sits in front of the guard on purpose: a hit costs one Redis round trip and must
not consume rate-limit or bulkhead capacity meant for the embedding model and Chroma.

Results are documents, not chunks: the chunks of one document collapse into one hit that
carries its best passages, so ``k`` means ``k`` documents and five slots are never filled
with pieces of the same article. A query that fits the embedding model's window is
searched by its vector alone (adding BM25 lowered StackFAQ MRR@10 from 0.965 to 0.890 with
plain reciprocal rank fusion and never raised it). A longer one is cut into sub-queries
(``query.windows``); their nearest chunks are fused by reciprocal rank fusion, and that
ranking is fused with BM25 over the whole text, where every word counts (tau2 banking
document Recall@5, 46 dev tasks: 0.338 dense on the whole text, 0.335 BM25, 0.401 fused;
the nearest 100 chunks per sub-query: 0.393 with 50).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from langchain_core.embeddings import Embeddings

from storage.cache import VersionedCache
from storage.vectorstore import ScoredChunk, VectorStore
from tools.config import KnowledgeBaseConfig
from tools.errors import DependencyError, InvalidInputError, ToolError
from tools.knowledge_base.fusion import grouped, rrf
from tools.knowledge_base.lexical import LexicalIndex
from tools.knowledge_base.query import windows

if TYPE_CHECKING:
    from tools.resilience import Resilience

logger = logging.getLogger(__name__)

DEPENDENCY = "knowledge_base"
PASSAGES_PER_DOCUMENT = 3
CHUNKS_PER_RESULT = 4
"""Chunks fetched per requested document when searching by vector alone; when one long
document fills them all, the search is repeated with four times as many (``_enough``)."""
SUBQUERY_DEPTH = 100
LEXICAL_DEPTH = 100


@dataclass(frozen=True)
class Passage:
    """One matched chunk of a document and which retrievers found it."""

    text: str
    chunk_index: int
    matched_by: tuple[str, ...]


@dataclass(frozen=True)
class SearchResult:
    """One document: ``chunk`` is its best passage, ``passages`` all that matched (best
    first, at most ``PASSAGES_PER_DOCUMENT``); ``score`` is the best cosine similarity of a
    passage to the query (or to one of its sub-queries)."""

    source: str
    title: str
    chunk: str
    score: float
    chunk_index: int
    passages: tuple[Passage, ...] = ()


@dataclass
class _Candidate:
    """A chunk found by either retriever; ``score`` is its best cosine (None: not known)."""

    id: str
    metadata: Mapping[str, Any]
    text: str | None = None
    score: float | None = None
    matched_by: tuple[str, ...] = ()

    @property
    def source(self) -> str:
        return str(self.metadata.get("source", ""))


def _documents(ranked: Sequence[_Candidate], k: int) -> list[list[_Candidate]]:
    """The first ``k`` documents of a chunk ranking, each with its chunks in rank order."""
    return list(grouped(ranked, lambda c: c.source).values())[:k]


def _result(chunks: Sequence[_Candidate]) -> SearchResult:
    shown = chunks[:PASSAGES_PER_DOCUMENT]
    passages = tuple(
        Passage(c.text or "", int(c.metadata.get("chunk_index", 0)), c.matched_by) for c in shown
    )
    return SearchResult(
        source=shown[0].source,
        title=str(shown[0].metadata.get("title", "")),
        chunk=passages[0].text,
        score=round(max(-1.0 if c.score is None else c.score for c in chunks), 4),
        chunk_index=passages[0].chunk_index,
        passages=passages,
    )


def _dense_candidates(found: Sequence[ScoredChunk]) -> list[_Candidate]:
    return [_Candidate(c.id, c.metadata, c.text, c.score, ("semantic",)) for c in found]


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
        lexical: LexicalIndex | None = None,
    ) -> None:
        self.store = store
        self.embeddings = embeddings
        self.config = config
        self.lexical = lexical or LexicalIndex(store)
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
        if len(query) > self.config.max_query_chars:
            raise InvalidInputError(
                f"query is {len(query):,} characters; the limit is "
                f"{self.config.max_query_chars:,}: keep the customer's question and its details"
            )
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
        results = []
        for item in orjson.loads(value):
            passages = tuple(
                Passage(p["text"], p["chunk_index"], tuple(p["matched_by"]))
                for p in item.pop("passages", [])
            )
            results.append(SearchResult(**item, passages=passages))
        return results

    def _by_vector(self, found: Sequence[ScoredChunk], k: int) -> list[SearchResult]:
        return [_result(chunks) for chunks in _documents(_dense_candidates(found), k)]

    @staticmethod
    def _enough(found: Sequence[ScoredChunk], asked: int, k: int) -> bool:
        """k documents among the chunks found, or every chunk there is was found."""
        return len(found) < asked or len({c.metadata.get("source") for c in found}) >= k

    def _hybrid(
        self, query: str, vectors: np.ndarray, k: int, where: Mapping[str, Any] | None
    ) -> list[SearchResult]:
        """Sub-queries (``vectors``, one per ``windows(query)``) by vector, fused; then fused
        with BM25 over the whole query. Blocking: Chroma and the BM25 index."""
        candidates: dict[str, _Candidate] = {}
        per_window = []
        for found in self.store.search_many(vectors.tolist(), SUBQUERY_DEPTH, where):
            per_window.append([c.id for c in found])
            for chunk in found:
                known = candidates.setdefault(chunk.id, _dense_candidates([chunk])[0])
                known.score = chunk.score if known.score is None else max(known.score, chunk.score)
        lexical = self.lexical.search(query, LEXICAL_DEPTH, where)
        for hit in lexical:
            known = candidates.setdefault(hit.id, _Candidate(hit.id, hit.metadata))
            known.matched_by = (*known.matched_by, "keyword")
        dense_chunks = rrf(per_window)
        lexical_chunks = [hit.id for hit in lexical]
        chunk_order = rrf([dense_chunks, lexical_chunks])
        documents = rrf(
            [
                list(dict.fromkeys(candidates[i].source for i in dense_chunks)),
                list(dict.fromkeys(candidates[i].source for i in lexical_chunks)),
            ]
        )[:k]
        by_document = grouped((candidates[i] for i in chunk_order), lambda c: c.source)
        chosen = [by_document[d][:PASSAGES_PER_DOCUMENT] for d in documents]
        self._fill_lexical_only([c for chunks in chosen for c in chunks], vectors)
        return [_result(chunks) for chunks in chosen]

    def _fill_lexical_only(self, chunks: Sequence[_Candidate], vectors: np.ndarray) -> None:
        """Text and cosine score of chunks BM25 found and no sub-query vector did."""
        missing = {c.id: c for c in chunks if c.text is None}
        if not missing:
            return
        for chunk_id, text, _meta, vector in self.store.chunks_where(ids=list(missing)):
            chunk = missing[chunk_id]
            chunk.text = text
            if vector is not None:
                chunk.score = float(np.max(vectors @ np.asarray(vector, dtype=np.float32)))

    def _fetch_uncached(
        self,
        query: str,
        k: int,
        where: Mapping[str, Any] | None,
        query_embedding: Sequence[float] | None,
    ) -> list[SearchResult]:
        try:
            parts = windows(query)
            if len(parts) > 1:
                vectors = np.asarray(self.embeddings.embed_documents(parts), dtype=np.float32)
                return self._hybrid(query, vectors, k, where)
            vector = (
                self.embeddings.embed_query(query) if query_embedding is None else query_embedding
            )
            asked = k * CHUNKS_PER_RESULT
            found = self.store.search(vector, asked, where)
            while not self._enough(found, asked, k):
                asked *= CHUNKS_PER_RESULT
                found = self.store.search(vector, asked, where)
            return self._by_vector(found, k)
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
            parts = windows(query)
            if len(parts) > 1:
                embedded = await self.embeddings.aembed_documents(parts)
                vectors = np.asarray(embedded, dtype=np.float32)
                return await self._run_blocking(self._hybrid, query, vectors, k, where)
            vector = (
                await self.embeddings.aembed_query(query)
                if query_embedding is None
                else query_embedding
            )
            asked = k * CHUNKS_PER_RESULT
            found = await self._run_blocking(self.store.search, vector, asked, where)
            while not self._enough(found, asked, k):
                asked *= CHUNKS_PER_RESULT
                found = await self._run_blocking(self.store.search, vector, asked, where)
            return self._by_vector(found, k)
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
        """The ``k`` documents that best answer ``query``, each with its matching passages;
        pass ``query_embedding`` if already computed (used when the query is short)."""
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
