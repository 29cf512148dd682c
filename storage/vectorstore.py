"""The knowledge-base vector store: one Chroma collection, embedded or on a Chroma server.

Embedded (``PersistentClient`` in ``chroma.persist_dir``) is the default; ``chroma.server_url``
switches to ``HttpClient``. Either way telemetry is off and nothing is downloaded: vectors are
computed by our own ``Embeddings`` and handed to Chroma, so its default embedding function
(which fetches a model) is never used. The collection uses cosine space with HNSW parameters
wide enough that the index finds what a brute-force scan finds (StackFAQ Recall@5 0.997).

Searches go through langchain-chroma; writes use the collection directly so that a caller can
embed once, add a file's chunks in bounded batches and delete by id.

An embedded store keeps its HNSW index in memory, so a process does not see what another
process (``support-agent ingest`` next to a running server) wrote. Writers therefore call
``mark_changed()``, which stamps a generation file beside the data; every search checks the
stamp (one ``stat``) and reopens the store when another process changed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import chromadb
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from storage.config import ChromaConfig
from storage.version_file import VersionFile

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HnswParams:
    """Index parameters, fixed when the collection is created.

    Chroma's defaults (ef_search 100, max_neighbors 16) are kept for small collections;
    ``ef_construction`` is raised so a large knowledge base does not lose recall.
    """

    ef_search: int = 100
    ef_construction: int = 200
    max_neighbors: int = 32


@dataclass(frozen=True)
class ScoredChunk:
    id: str
    text: str
    metadata: Mapping[str, Any]
    score: float


def _client(config: ChromaConfig) -> ClientAPI:
    settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if config.server_url:
        parts = urlsplit(config.server_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("chroma.server_url must look like http://host:8000")
        headers = {}
        if config.api_key is not None:
            headers["x-chroma-token"] = config.api_key.get_secret_value()
        return chromadb.HttpClient(
            host=parts.hostname,
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            headers=headers or None,
            settings=settings,
        )
    if config.persist_dir is None:
        raise ValueError("chroma.persist_dir is empty; Settings fills it with DATA_DIR/chroma")
    config.persist_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(config.persist_dir), settings=settings)


class _Gate:
    """Many searches at once, or one reopen with no search in flight."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._readers = 0
        self._writing = False

    @contextlib.contextmanager
    def shared(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing)
            self._readers += 1
        try:
            yield
        finally:
            with self._condition:
                self._readers -= 1
                self._condition.notify_all()

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._condition:
            self._condition.wait_for(lambda: not self._writing)
            self._writing = True
            self._condition.wait_for(lambda: self._readers == 0)
        try:
            yield
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()


class VectorStore:
    """One collection of text chunks with their vectors and metadata."""

    def __init__(
        self,
        config: ChromaConfig,
        embeddings: Embeddings,
        *,
        hnsw: HnswParams | None = None,
    ) -> None:
        self.config = config
        self.embeddings = embeddings
        self.hnsw = hnsw or HnswParams()
        self.mode = "server" if config.server_url else "embedded"
        self._gate = _Gate()
        self._generation = (
            VersionFile(config.persist_dir / f"{config.collection}.generation")
            if self.mode == "embedded" and config.persist_dir is not None
            else None
        )
        self._loaded = self._generation.read() if self._generation else ""
        self._writes = 0
        self._open()

    def _open(self) -> None:
        self.client = _client(self.config)
        try:
            self.langchain = Chroma(
                collection_name=self.config.collection,
                embedding_function=self.embeddings,
                client=self.client,
                collection_configuration={
                    "hnsw": {
                        "space": "cosine",
                        "ef_search": self.hnsw.ef_search,
                        "ef_construction": self.hnsw.ef_construction,
                        "max_neighbors": self.hnsw.max_neighbors,
                    }
                },
            )
        except BaseException:
            self._close_client()
            raise
        # The collection Chroma() just created, through chromadb's public API (as
        # langchain-chroma itself opens it), for the calls it does not wrap.
        self.collection: Collection = self.client.get_collection(name=self.config.collection)

    def refresh(self) -> bool:
        """Reopen if another process changed the embedded store; True when it did."""
        if self._generation is None or self._generation.read() == self._loaded:
            return False
        with self._gate.exclusive():
            current = self._generation.read()
            if current == self._loaded:
                return False
            self._close_client()
            self._open()
            self._loaded = current
        logger.info("vector store reopened after a change by another process")
        return True

    def generation(self) -> str:
        """Token of the embedded data's last change by any process ("" for a server)."""
        return self._generation.read() if self._generation is not None else ""

    def mark_changed(self) -> None:
        """Tell other processes this one changed the data (call after writes)."""
        if self._generation is not None:
            self._loaded = self._generation.bump()

    def data_version(self) -> tuple[str, int, int]:
        """Changes whenever the chunks may have changed: a write through this object, a
        write by another process on the embedded store (its generation), and, for a Chroma
        server written by others, the chunk count. Derived indexes rebuild when it moves."""
        count = self.count() if self.mode == "server" else -1
        return (self.generation(), self._writes, count)

    @property
    def name(self) -> str:
        return self.config.collection

    def count(self) -> int:
        with self._gate.shared():
            return self.collection.count()

    def search(
        self, vector: Sequence[float], k: int, where: Mapping[str, Any] | None = None
    ) -> list[ScoredChunk]:
        """Nearest chunks by cosine; ``score`` is the cosine similarity (1 is identical)."""
        self.refresh()
        with self._gate.shared():
            found = self.langchain.similarity_search_by_vector_with_relevance_scores(
                list(vector), k=k, filter=dict(where) if where else None
            )
        return [
            ScoredChunk(
                id=str(doc.id),
                text=doc.page_content,
                metadata=doc.metadata,
                score=1.0 - float(distance),
            )
            for doc, distance in found
        ]

    def search_many(
        self,
        vectors: Sequence[Sequence[float]],
        k: int,
        where: Mapping[str, Any] | None = None,
    ) -> list[list[ScoredChunk]]:
        """``search`` for several query vectors in one index call (the sub-queries of a
        long question); one list of nearest chunks per vector, in the same order."""
        self.refresh()
        with self._gate.shared():
            found = self.collection.query(
                query_embeddings=[list(v) for v in vectors],
                n_results=k,
                where=dict(where) if where else None,
                include=["documents", "metadatas", "distances"],
            )
        documents = found["documents"] or []
        metadatas = found["metadatas"] or []
        distances = found["distances"] or []
        return [
            [
                ScoredChunk(id=str(i), text=t or "", metadata=m or {}, score=1.0 - float(d))
                for i, t, m, d in zip(ids, texts, metas, dists, strict=True)
            ]
            for ids, texts, metas, dists in zip(
                found["ids"], documents, metadatas, distances, strict=True
            )
        ]

    def chunks_where(
        self, where: Mapping[str, Any] | None = None, *, ids: Sequence[str] | None = None
    ) -> list[tuple[str, str, Mapping[str, Any], Sequence[float] | None]]:
        """(id, text, metadata, vector) of the chunks matching ``where`` or ``ids``; vectors
        only when ``ids`` are given (a full scan for the lexical index needs text only)."""
        include: list[Any] = ["documents", "metadatas"]
        if ids is not None:
            include.append("embeddings")
        with self._gate.shared():
            result = self.collection.get(
                ids=list(ids) if ids is not None else None,
                where=dict(where) if where else None,
                include=include,
            )
        count = len(result["ids"])
        texts = result.get("documents") or [""] * count
        metadatas = result.get("metadatas") or [{}] * count
        vectors = result.get("embeddings")
        vectors = [None] * count if vectors is None else list(vectors)
        return [
            (str(i), t or "", m or {}, v)
            for i, t, m, v in zip(result["ids"], texts, metadatas, vectors, strict=True)
        ]

    def ids_where(self, where: Mapping[str, Any] | None = None) -> dict[str, Mapping[str, Any]]:
        """Ids and metadata of every chunk matching ``where`` (all chunks when None)."""
        with self._gate.shared():
            result = self.collection.get(
                where=dict(where) if where else None, include=["metadatas"]
            )
        metadatas = result.get("metadatas") or [{}] * len(result["ids"])
        return {id_: (meta or {}) for id_, meta in zip(result["ids"], metadatas, strict=True)}

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        vectors: Sequence[Sequence[float]],
        metadatas: Sequence[Mapping[str, Any]],
    ) -> None:
        """Add new chunks in batches Chroma accepts; on failure, remove what this call added."""
        batch = max(1, self.client.get_max_batch_size())
        done = 0
        try:
            for start in range(0, len(ids), batch):
                end = start + batch
                with self._gate.shared():
                    self.collection.upsert(
                        ids=list(ids[start:end]),
                        documents=list(texts[start:end]),
                        embeddings=[list(v) for v in vectors[start:end]],
                        metadatas=[dict(m) for m in metadatas[start:end]],
                    )
                done = end
                self._writes += 1
        except BaseException:
            if done:
                self.delete(ids[:done])
            raise

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        batch = max(1, self.client.get_max_batch_size())
        for start in range(0, len(ids), batch):
            with self._gate.shared():
                self.collection.delete(ids=ids[start : start + batch])
            self._writes += 1

    def _close_client(self) -> None:
        close = getattr(self.client, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        """Release the client (for the embedded store: its SQLite files and HNSW segments)."""
        self._close_client()
        logger.debug("vector store closed", extra={"collection": self.name})

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)
