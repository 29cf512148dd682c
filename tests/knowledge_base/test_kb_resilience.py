"""A Chroma server that goes away: structured, retryable errors, then an open breaker."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from langchain_core.embeddings import Embeddings

from storage.config import ChromaConfig
from tools.knowledge_base import KnowledgeBase, build_search_tool
from tools.resilience import DependencyPolicy, Resilience, ResilienceConfig

from .conftest import KB, ChromaServer
from .test_kb_cache import write_policy


def test_a_dead_vector_store_gives_structured_errors_and_opens_the_breaker(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    server = ChromaServer(tmp_path / "server")
    resilience: Resilience | None = None
    try:
        kb = make_kb(
            fake_embeddings,
            cache=False,
            chroma=ChromaConfig(server_url=server.url, collection="kb_dead"),
        )
        kb.ingestor.ingest([write_policy(tmp_path / "docs", 30)])
        policy = DependencyPolicy(
            timeout_s=2, total_timeout_s=5, max_attempts=2, backoff_initial_s=0.01, fail_max=2
        )
        resilience = Resilience(ResilienceConfig(dependencies={"knowledge_base": policy}))
        guarded = KnowledgeBase(
            kb.store, fake_embeddings, kb.knowledge_base.config, resilience=resilience
        )
        tool = build_search_tool(guarded)
        call = {"name": tool.name, "args": {"query": "returns"}, "id": "c1", "type": "tool_call"}
        assert tool.invoke(call).status == "success"

        server.stop()
        first = tool.invoke(call)
        assert first.status == "error"
        error = json.loads(first.content)["error"]
        assert (error["code"], error["retryable"], error["dependency"]) == (
            "dependency_error",
            True,
            "knowledge_base",
        )
        assert resilience.breaker_state("knowledge_base") == "open"
        second = json.loads(tool.invoke(call).content)["error"]
        assert second["code"] == "circuit_open"
        assert second["retry_after_s"] > 0
    finally:
        if resilience is not None:
            resilience.close()
        server.stop()
