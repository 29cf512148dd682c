"""The BM25 index beside the vectors, built from the chunks the vector store holds.

Chroma stays the one place chunks are written; this index is derived from it and rebuilt
(in memory, with ``bm25s``) whenever the store's ``data_version`` moves: after an ingest or a
removal in this process, after another process changed the embedded store, or when a Chroma
server's chunk count changed. So ingest and removal keep it in step without a second write
path that could drift. Building it for 1,200 chunks takes a fraction of a second.

Words are lower-cased, English stop words dropped and Snowball-stemmed (PyStemmer), so
"refunds" finds "refund" and "the" finds nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np
import Stemmer

from storage.vectorstore import VectorStore

_STEMMER = Stemmer.Stemmer("english")


def tokens(text: str) -> list[str]:
    """The index terms of ``text``."""
    found = bm25s.tokenize(
        [text], stopwords="en", stemmer=_STEMMER, return_ids=False, show_progress=False
    )
    return list(found[0]) if found else []


@dataclass(frozen=True)
class LexicalHit:
    id: str
    score: float
    metadata: Mapping[str, Any]


class _Built:
    def __init__(self, chunks: Sequence[tuple[str, str, Mapping[str, Any]]]) -> None:
        self.ids = [chunk_id for chunk_id, _, _ in chunks]
        self.metadatas = [meta for _, _, meta in chunks]
        self.index: bm25s.BM25 | None = None
        if chunks:
            self.index = bm25s.BM25()
            corpus = [tokens(text) or [""] for _, text, _ in chunks]
            self.index.index(corpus, show_progress=False)

    def search(
        self, query: str, n: int, keep: Callable[[Mapping[str, Any]], bool]
    ) -> list[LexicalHit]:
        terms = tokens(query)
        if self.index is None or not terms:
            return []
        scores = self.index.get_scores(terms)
        order = np.argsort(-scores, kind="stable")
        hits = []
        for position in order:
            score = float(scores[position])
            if score <= 0:
                break
            if keep(self.metadatas[position]):
                hits.append(LexicalHit(self.ids[position], score, self.metadatas[position]))
                if len(hits) == n:
                    break
        return hits


def matches(where: Mapping[str, Any] | None) -> Callable[[Mapping[str, Any]], bool]:
    """The exact-match ``where`` clause of ``search.where_clause`` as a predicate."""
    if not where:
        return lambda _meta: True
    terms = where.get("$and", [where])
    wanted = [(name, value) for term in terms for name, value in term.items()]
    return lambda meta: all(meta.get(name) == value for name, value in wanted)


class LexicalIndex:
    """BM25 over one vector store's chunks, rebuilt when the store's data changes."""

    def __init__(self, store: VectorStore) -> None:
        self.store = store
        self._lock = threading.Lock()
        self._built: _Built | None = None
        self._version: tuple[str, int, int] | None = None

    def _current(self) -> _Built:
        version = self.store.data_version()
        with self._lock:
            if self._built is None or version != self._version:
                chunks = [(i, t, m) for i, t, m, _ in self.store.chunks_where()]
                self._built = _Built(chunks)
                self._version = version
            return self._built

    def search(
        self, query: str, n: int, where: Mapping[str, Any] | None = None
    ) -> list[LexicalHit]:
        """The ``n`` best chunks for ``query`` by BM25 (none share no term with it)."""
        self.store.refresh()
        return self._current().search(query, n, matches(where))
