"""StackFAQ retrieval through the real index: the HNSW index must keep brute-force recall."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from langchain_core.embeddings import Embeddings

from tools.config import KnowledgeBaseConfig

from .conftest import KB


def test_stackfaq_recall_at_5(
    fixtures_dir: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    kb = make_kb(local_embeddings, config=KnowledgeBaseConfig(), cache=False)
    summary = kb.ingestor.ingest([fixtures_dir / "stackfaq" / "docs.jsonl"])
    assert summary.counts["added"] == 1
    queries = [
        json.loads(line)
        for line in (fixtures_dir / "stackfaq" / "queries_dev.jsonl").read_text().splitlines()
    ]
    vectors = local_embeddings.embed_documents([q["text"] for q in queries])
    found = 0
    for query, vector in zip(queries, vectors, strict=True):
        results = kb.knowledge_base.search(query["text"], k=5, query_embedding=vector)
        found += query["doc_id"] in {r.source for r in results}
    recall = found / len(queries)
    assert len(queries) == 638
    assert recall >= 0.95, f"Recall@5 {recall:.3f}"
