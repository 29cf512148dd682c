"""Knowledge-base quality and overhead against the bare calls it wraps, side by side in one run.

- Quality on StackFAQ (125 FAQ entries, 638 real rephrasings): Recall@5 and MRR@10 by
  source document for dense-only (the HNSW index, query embedded whole), BM25-only and the
  shipped ``KnowledgeBase.search``, next to a brute-force cosine scan over the very same
  chunk vectors, so any recall the index loses shows up.
- Quality on tau2 banking (698 documents, 46 dev tasks, the customer's whole scenario as
  the query, median 3,500 characters): document Recall@5 (required documents in the top 5
  divided by min(5, required)), hit@5 (at least one) and refusals, for the same three.
- Latency (median / p99, microseconds), all with the local ONNX model and embedded Chroma:
  a bare Redis ``GET`` of a ~2 KB value vs a cached search (Redis, then in-process); a bare
  ``collection.query`` with a precomputed vector vs our search given the same vector; the
  query embedding alone; langchain-chroma ``similarity_search`` (embeds the query itself)
  vs our uncached search (embed + query through the resilience guard), and a cache miss.
- Ingest throughput in chunks/s (and the share spent embedding), and a no-op re-ingest.

Run: ``.venv/bin/python -m bench.knowledge_base [--n 300]`` (needs Redis at REDIS_URL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from rich.console import Console
from rich.table import Table

from storage.cache import VersionedCache
from storage.config import ChromaConfig, EmbeddingConfig, RedisConfig
from storage.embeddings import build_embeddings
from storage.redis import RedisHandle
from tools.config import KnowledgeBaseConfig
from tools.errors import InvalidInputError
from tools.knowledge_base import KnowledgeBase, open_knowledge_base
from tools.resilience import Resilience, ResilienceConfig

SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
FIXTURES = SHARED / "stackfaq"
BANKING = SHARED / "tau2_banking"


def _time(rows: dict[str, Callable[[int], Any]], n: int) -> dict[str, list[float]]:
    """Median-friendly samples of each function, interleaved call by call so that load
    from other processes on this shared machine hits every row alike."""
    for i in range(min(20, n)):
        for fn in rows.values():
            fn(i)
    samples: dict[str, list[float]] = {name: [] for name in rows}
    for i in range(n):
        for name, fn in rows.items():
            start = time.perf_counter()
            fn(i)
            samples[name].append((time.perf_counter() - start) * 1e6)
    return samples


def _atime(rows: dict[str, Callable[[int], Any]], n: int) -> dict[str, list[float]]:
    """``_time`` for coroutine functions, in one event loop (the asyncio Redis client is
    bound to the loop it first ran on)."""

    async def run() -> dict[str, list[float]]:
        for i in range(min(20, n)):
            for fn in rows.values():
                await fn(i)
        samples: dict[str, list[float]] = {name: [] for name in rows}
        for i in range(n):
            for name, fn in rows.items():
                start = time.perf_counter()
                await fn(i)
                samples[name].append((time.perf_counter() - start) * 1e6)
        return samples

    return asyncio.run(run())


class _TimedEmbeddings(Embeddings):
    """Counts the time spent embedding documents, to split ingest time honestly."""

    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.seconds = 0.0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        started = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - started

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    async def aembed_query(self, text: str) -> list[float]:
        return await self.inner.aembed_query(text)


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def _ranks(ranked_sources: list[list[str]], expected: list[str]) -> tuple[float, float]:
    recall = mrr = 0.0
    for sources, doc_id in zip(ranked_sources, expected, strict=True):
        unique = list(dict.fromkeys(sources))
        recall += doc_id in unique[:5]
        if doc_id in unique[:10]:
            mrr += 1 / (unique.index(doc_id) + 1)
    return recall / len(expected), mrr / len(expected)


def _documents_at_5(
    ranked_sources: list[list[str] | None], required: list[list[str]]
) -> tuple[float, float, int]:
    """Document Recall@5 (found / min(5, required)), hit@5 and refusals (None rankings)."""
    recall = hit = 0.0
    refused = 0
    for sources, needed in zip(ranked_sources, required, strict=True):
        if sources is None:
            refused += 1
            continue
        found = len(set(needed) & set(list(dict.fromkeys(sources))[:5]))
        recall += found / min(5, len(needed))
        hit += found > 0
    return recall / len(required), hit / len(required), refused


def _three_ways(
    stack: Any, texts: list[str], vectors: list[list[float]] | None = None
) -> dict[str, list[list[str] | None]]:
    """Ranked document ids per query: dense-only, BM25-only and the shipped search.

    Dense-only embeds the whole query (the model reads its first 256 tokens) and collapses
    the nearest 50 chunks by document; BM25-only collapses the best 100 chunks; the shipped
    search is ``KnowledgeBase.search`` with k=10 (None when it refused the query).
    """
    kb: KnowledgeBase = stack.knowledge_base
    if vectors is None:
        vectors = kb.embeddings.embed_documents(texts)
    dense = [[str(c.metadata.get("source")) for c in stack.store.search(v, 50)] for v in vectors]
    lexical = [[str(h.metadata.get("source")) for h in kb.lexical.search(t, 100)] for t in texts]
    shipped: list[list[str] | None] = []
    for text, vector in zip(texts, vectors, strict=True):
        try:
            shipped.append([r.source for r in kb.search(text, k=10, query_embedding=vector)])
        except InvalidInputError:
            shipped.append(None)
    return {
        "dense only (query embedded whole)": list(dense),
        "BM25 only": list(lexical),
        "shipped: KnowledgeBase.search": shipped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="samples per latency row")
    args = parser.parse_args()
    console = Console()

    queries = [json.loads(line) for line in (FIXTURES / "queries_dev.jsonl").open()]
    texts = [q["text"] for q in queries]
    expected = [q["doc_id"] for q in queries]
    tasks = [json.loads(line) for line in (BANKING / "tasks_dev.jsonl").open()]
    scenarios = [t["scenario"] for t in tasks]
    required = [t["required_documents"] for t in tasks]
    embeddings = _TimedEmbeddings(build_embeddings(EmbeddingConfig()))
    redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
    prefix = f"benchkb{uuid.uuid4().hex[:8]}"
    handle = RedisHandle.from_config(RedisConfig(url=redis_url, key_prefix=prefix))
    assert handle is not None
    resilience = Resilience(ResilienceConfig())
    config = KnowledgeBaseConfig()

    with tempfile.TemporaryDirectory() as tmp:
        chroma = ChromaConfig(persist_dir=Path(tmp) / "chroma")
        stack = open_knowledge_base(chroma, config, embeddings, redis=handle, resilience=resilience)
        bank = open_knowledge_base(
            chroma.model_copy(update={"collection": "banking"}),
            config,
            embeddings,
            redis=handle,
            resilience=resilience,
        )
        try:
            started = time.perf_counter()
            summary = stack.ingestor.ingest([FIXTURES / "docs.jsonl"])
            ingest_s = time.perf_counter() - started
            chunks = summary.chunks_added
            embed_s = embeddings.seconds
            started = time.perf_counter()
            again = stack.ingestor.ingest([FIXTURES / "docs.jsonl"])
            reingest_s = time.perf_counter() - started
            assert again.counts["unchanged"] == 1
            bank_chunks = bank.ingestor.ingest([BANKING / "docs.jsonl"]).chunks_added

            query_vectors = embeddings.embed_documents(texts)
            faq = {
                name: _ranks(ranked, expected)  # type: ignore[arg-type]
                for name, ranked in _three_ways(stack, texts, query_vectors).items()
            }
            everything = stack.store.collection.get(include=["embeddings", "metadatas"])
            matrix = np.asarray(everything["embeddings"], dtype=np.float32)
            matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
            chunk_sources = [m["source"] for m in everything["metadatas"]]
            scores = np.asarray(query_vectors, dtype=np.float32) @ matrix.T
            brute_sources = [[chunk_sources[j] for j in np.argsort(-row)[:10]] for row in scores]
            faq["brute-force cosine, same chunks"] = _ranks(brute_sources, expected)
            banking = {
                name: _documents_at_5(ranked, required)
                for name, ranked in _three_ways(bank, scenarios).items()
            }

            rows = _latency(stack, texts, query_vectors, handle, config, embeddings, args.n)
            long_rows = _long_latency(bank, scenarios, config, embeddings, max(10, args.n // 10))
        finally:
            stack.close()
            bank.close()
            keys = list(handle.sync.scan_iter(match=f"{prefix}*", count=1000))
            if keys:
                handle.sync.delete(*keys)
            handle.close()
            resilience.close()

    quality = Table(title=f"StackFAQ retrieval ({len(texts)} short queries, {chunks} chunks)")
    for column in ("retriever", "Recall@5", "MRR@10"):
        quality.add_column(column, justify="right" if column != "retriever" else "left")
    for name, (recall, mrr) in faq.items():
        quality.add_row(name, f"{recall:.3f}", f"{mrr:.3f}")
    console.print(quality)

    long_quality = Table(
        title=f"tau2 banking, whole scenario as the query ({len(tasks)} tasks, median "
        f"{statistics.median(len(s) for s in scenarios):,.0f} chars, {bank_chunks} chunks)"
    )
    for column in ("retriever", "doc Recall@5", "hit@5", "refused"):
        long_quality.add_column(column, justify="right" if column != "retriever" else "left")
    for name, (recall, hit, refused) in banking.items():
        long_quality.add_row(name, f"{recall:.3f}", f"{hit:.3f}", str(refused))
    console.print(long_quality)

    _print_latency(console, f"knowledge-base search, short queries, k=5 (n={args.n}, µs)", rows)
    _print_latency(
        console,
        f"knowledge-base search, long queries, k=5 (n={max(10, args.n // 10)}, µs)",
        long_rows,
    )

    ingest = Table(title="ingest (StackFAQ docs.jsonl)")
    for column in ("step", "value"):
        ingest.add_column(column)
    ingest.add_row(
        "first ingest", f"{chunks} chunks in {ingest_s:.2f} s = {chunks / ingest_s:,.1f} chunks/s"
    )
    ingest.add_row("of which embedding", f"{embed_s:.2f} s ({embed_s / ingest_s:.0%})")
    ingest.add_row("re-ingest, unchanged", f"{reingest_s * 1000:.0f} ms (0 chunks embedded)")
    console.print(ingest)


BASELINES = {
    "cached search, Redis": "bare Redis GET",
    "cached search, in-process": "bare Redis GET",
    "cached search, tool.invoke (Redis)": "bare Redis GET",
    "cached asearch, Redis": "bare Redis GET, async",
    "search with precomputed vector (no cache)": "bare collection.query",
    "uncached search (embed + query, guarded)": "similarity_search",
    "cache miss (GET + embed + query + SET)": "similarity_search",
    "cached search, long query (Redis)": "similarity_search, long query",
    "uncached search, long query (windows + BM25, guarded)": "similarity_search, long query",
}


def _print_latency(console: Console, title: str, rows: dict[str, list[float]]) -> None:
    table = Table(title=title)
    for column in ("operation", "median", "p99", "ratio", "vs"):
        table.add_column(column, justify="left" if column in ("operation", "vs") else "right")
    medians = {name: statistics.median(samples) for name, samples in rows.items()}
    for name, samples in rows.items():
        base = BASELINES.get(name)
        ratio = f"{medians[name] / medians[base]:.3g}x" if base else ""
        table.add_row(name, f"{medians[name]:,.0f}", f"{_p99(samples):,.0f}", ratio, base or "")
    console.print(table)


def _long_latency(
    stack: Any, scenarios: list[str], config: KnowledgeBaseConfig, embeddings: Any, n: int
) -> dict[str, list[float]]:
    """Whole scenarios: the shipped search cached and uncached against langchain-chroma's
    ``similarity_search`` on the same collection (which embeds only the first 256 tokens)."""
    kb: KnowledgeBase = stack.knowledge_base
    count = len(scenarios)
    nocache = KnowledgeBase(
        stack.store,
        embeddings,
        config.model_copy(update={"cache_ttl_s": 0}),
        resilience=Resilience(ResilienceConfig()),
        lexical=kb.lexical,
    )
    for text in scenarios[:10]:
        kb.search(text, 5)
    return _time(
        {
            "similarity_search, long query": lambda i: stack.store.langchain.similarity_search(
                scenarios[i % count], k=5
            ),
            "uncached search, long query (windows + BM25, guarded)": lambda i: nocache.search(
                scenarios[i % count], 5
            ),
            "cached search, long query (Redis)": lambda i: kb.search(scenarios[i % 10], 5),
        },
        n,
    )


def _latency(
    stack: Any,
    texts: list[str],
    vectors: list[list[float]],
    handle: RedisHandle,
    config: KnowledgeBaseConfig,
    embeddings: Any,
    n: int,
) -> dict[str, list[float]]:
    from tools.knowledge_base import build_search_tool

    kb: KnowledgeBase = stack.knowledge_base
    count = len(texts)
    hot = texts[:20]
    payload = json.dumps([{"source": "x", "chunk": "y" * 400, "score": 0.5}] * 4)
    bare_key = handle.key("bench", "bare")
    handle.sync.set(bare_key, payload)
    local = KnowledgeBase(
        stack.store, embeddings, config, cache=VersionedCache("bench-local", ttl_s=300)
    )
    for text in hot:
        kb.search(text, 5)
        local.search(text, 5)
    tool = build_search_tool(kb)
    rows = _time(
        {
            "bare Redis GET": lambda _i: json.loads(handle.sync.get(bare_key)),
            "cached search, Redis": lambda i: kb.search(hot[i % 20], 5),
            "cached search, in-process": lambda i: local.search(hot[i % 20], 5),
            "cached search, tool.invoke (Redis)": lambda i: tool.invoke(
                {"query": hot[i % 20], "k": 5}
            ),
        },
        n,
    )

    async def aget(_i: int) -> Any:
        return json.loads(await handle.aio.get(bare_key))

    rows.update(
        _atime(
            {
                "bare Redis GET, async": aget,
                "cached asearch, Redis": lambda i: kb.asearch(hot[i % 20], 5),
            },
            n,
        )
    )

    collection = stack.store.collection
    nocache = KnowledgeBase(
        stack.store,
        embeddings,
        config.model_copy(update={"cache_ttl_s": 0}),
        resilience=Resilience(ResilienceConfig()),
    )
    langchain = stack.store.langchain
    fresh = iter(range(10**9))
    rows.update(
        _time(
            {
                "bare collection.query": lambda i: collection.query(
                    query_embeddings=[vectors[i % count]],
                    n_results=5,
                    include=["documents", "metadatas", "distances"],
                ),
                "search with precomputed vector (no cache)": lambda i: nocache.search(
                    texts[i % count], 5, query_embedding=vectors[i % count]
                ),
                "query embedding alone": lambda i: embeddings.embed_query(texts[i % count]),
                "similarity_search": lambda i: langchain.similarity_search(texts[i % count], k=5),
                "uncached search (embed + query, guarded)": lambda i: nocache.search(
                    texts[i % count], 5
                ),
                "cache miss (GET + embed + query + SET)": lambda i: kb.search(
                    f"{texts[i % count]} #{next(fresh)}", 5
                ),
            },
            n,
        )
    )
    handle.sync.delete(bare_key)
    return rows


if __name__ == "__main__":
    main()
