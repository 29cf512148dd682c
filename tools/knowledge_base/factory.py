"""Assemble the knowledge base from configuration: store, cache, search service, ingestor.

The CLI, the graph and a developer's own agent all need the same wiring; building it in
one place keeps the cache namespace identical in every process, so an ingest's version bump
reaches every process's Redis cache.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.embeddings import Embeddings

from storage.cache import VersionedCache
from storage.config import ChromaConfig
from storage.vectorstore import HnswParams, VectorStore
from tools.config import KnowledgeBaseConfig
from tools.knowledge_base.ingest import Ingestor
from tools.knowledge_base.search import KnowledgeBase

if TYPE_CHECKING:
    from storage.redis import RedisHandle
    from tools.resilience import Resilience


CACHE_NAME = "kb"
"""One cache namespace for every collection: keys carry the collection, and an ingest into
any collection bumps it (a harmless over-invalidation) so every process agrees on it."""


@dataclass
class KnowledgeBaseStack:
    store: VectorStore
    cache: VersionedCache
    knowledge_base: KnowledgeBase
    ingestor: Ingestor

    def close(self) -> None:
        self.store.close()

    async def aclose(self) -> None:
        await self.store.aclose()


def open_knowledge_base(
    chroma: ChromaConfig,
    config: KnowledgeBaseConfig,
    embeddings: Embeddings,
    *,
    redis: RedisHandle | None = None,
    resilience: Resilience | None = None,
) -> KnowledgeBaseStack:
    """Open the collection named by ``chroma``; the caller closes the stack."""
    store = VectorStore(
        chroma,
        embeddings,
        hnsw=HnswParams(
            ef_search=config.hnsw_ef_search,
            ef_construction=config.hnsw_ef_construction,
            max_neighbors=config.hnsw_max_neighbors,
        ),
    )
    cache = VersionedCache(
        CACHE_NAME,
        redis=redis,
        ttl_s=config.cache_ttl_s,
        max_entries=config.cache_max_entries,
    )
    return KnowledgeBaseStack(
        store=store,
        cache=cache,
        knowledge_base=KnowledgeBase(store, embeddings, config, cache=cache, resilience=resilience),
        ingestor=Ingestor(store, embeddings, config, cache=cache),
    )
