"""A Chroma server that goes away: structured, retryable errors, then an open breaker."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from storage.config import ChromaConfig
from tools.errors import DependencyTimeoutError
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
        policy = DependencyPolicy(timeout_s=2, total_timeout_s=5, max_attempts=1, fail_max=1)
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


async def test_a_hung_vector_store_cannot_starve_local_embedding(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    """Vector-store calls run in the bounded resilience executor: with all its threads
    stuck (as on a hung Chroma server), searches time out with a structured error while
    local embedding, on the loop's own executor, still answers."""
    kb = make_kb(local_embeddings, cache=False)
    kb.ingestor.ingest([write_policy(tmp_path / "docs", 30)])
    policy = DependencyPolicy(timeout_s=3, total_timeout_s=3, max_attempts=1)
    config = ResilienceConfig(executor_max_workers=2, dependencies={"knowledge_base": policy})
    async with Resilience(config) as resilience:
        guarded = KnowledgeBase(
            kb.store, local_embeddings, kb.knowledge_base.config, resilience=resilience
        )
        assert (await guarded.asearch("returns"))[0].chunk
        hung = threading.Event()
        stuck = [asyncio.ensure_future(resilience.executor.run(hung.wait)) for _ in range(2)]
        try:
            with pytest.raises(DependencyTimeoutError):
                await guarded.asearch("how do I return an item?")
            vector = await asyncio.wait_for(local_embeddings.aembed_query("refund"), 30)
            assert len(vector) == 384
        finally:
            hung.set()
            await asyncio.gather(*stuck)
        assert (await guarded.asearch("returns"))[0].chunk
