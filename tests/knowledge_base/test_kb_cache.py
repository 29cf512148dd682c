"""The search cache: hits, invalidation by re-ingest (Redis and in-process), and failures."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from storage.cache import CacheInvalidationError, VersionedCache
from storage.config import RedisConfig
from storage.redis import RedisHandle
from tests.redis_server import RedisServer
from tools.knowledge_base import KnowledgeBase, build_search_tool

from .conftest import KB

QUESTION = "how long do I have to return an item?"


def write_policy(folder: Path, days: int) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "returns.md").write_text(
        f"# Returns\n\nYou can return an item within {days} days of delivery."
    )
    (folder / "shipping.md").write_text("# Shipping\n\nOrders ship within two business days.")
    return folder


def top_chunk(kb: KB) -> str:
    return kb.knowledge_base.search(QUESTION, k=1)[0].chunk


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> RedisHandle | None:
    if request.param == "memory":
        return None
    return request.getfixturevalue("redis_handle")


def test_a_repeated_search_is_served_from_the_cache(
    tmp_path: Path,
    make_kb: Callable[..., KB],
    fake_embeddings: Embeddings,
    backend: RedisHandle | None,
) -> None:
    kb = make_kb(fake_embeddings, redis_handle=backend)
    kb.ingestor.ingest([write_policy(tmp_path / "docs", 30)])
    first = kb.knowledge_base.search(QUESTION, k=2)
    second = kb.knowledge_base.search(QUESTION, k=2)
    assert first == second
    assert kb.cache is not None
    stats = kb.cache.stats()
    assert (stats["hits"], stats["misses"], stats["errors"]) == (1, 1, 0)
    assert stats["backend"] == ("redis" if backend else "memory")
    kb.knowledge_base.search(QUESTION, k=3)
    assert kb.cache.stats()["misses"] == 2, "k is part of the key"


def test_a_reingest_invalidates_cached_answers(
    tmp_path: Path,
    make_kb: Callable[..., KB],
    local_embeddings: Embeddings,
    backend: RedisHandle | None,
) -> None:
    kb = make_kb(local_embeddings, redis_handle=backend)
    docs = write_policy(tmp_path / "docs", 30)
    kb.ingestor.ingest([docs])
    assert "30 days" in top_chunk(kb)
    assert "30 days" in top_chunk(kb)

    write_policy(docs, 60)
    assert kb.ingestor.ingest([docs]).counts["replaced"] == 1
    assert "60 days" in top_chunk(kb)


async def test_async_search_sees_the_reingest_too(
    tmp_path: Path,
    make_kb: Callable[..., KB],
    local_embeddings: Embeddings,
    backend: RedisHandle | None,
) -> None:
    kb = make_kb(local_embeddings, redis_handle=backend)
    docs = write_policy(tmp_path / "docs", 30)
    await kb.ingestor.aingest([docs])
    tool = build_search_tool(kb.knowledge_base)
    for _ in range(2):
        payload = json.loads(await tool.ainvoke({"query": QUESTION, "k": 1}))
        assert "30 days" in payload["results"][0]["passages"][0]["text"]
    write_policy(docs, 60)
    await kb.ingestor.aingest([docs])
    payload = json.loads(await tool.ainvoke({"query": QUESTION, "k": 1}))
    assert "60 days" in payload["results"][0]["passages"][0]["text"]


def test_an_ingest_in_another_process_invalidates_an_in_process_cache(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    server = make_kb(local_embeddings)
    docs = write_policy(tmp_path / "docs", 30)
    server.ingestor.ingest([docs])
    assert "30 days" in top_chunk(server)
    assert "30 days" in top_chunk(server)

    cli = make_kb(local_embeddings)
    assert cli.cache is not server.cache
    write_policy(docs, 60)
    cli.ingestor.ingest([docs])
    assert "60 days" in top_chunk(server)


def test_an_answer_computed_during_an_ingest_is_never_served_after_it(
    tmp_path: Path, backend: RedisHandle | None
) -> None:
    cache = VersionedCache("race", redis=backend, version_file=tmp_path / "v")
    lookup = cache.get("q")
    assert lookup.value is None
    cache.bump()
    cache.set("q", "answer from before the ingest", lookup.version)
    assert cache.get("q").value is None
    fresh = cache.get("q")
    cache.set("q", "fresh", fresh.version)
    assert cache.get("q").value == "fresh"


def test_redis_entries_are_refused_after_an_ingest_that_could_not_reach_redis(
    tmp_path: Path, redis_handle: RedisHandle
) -> None:
    shared = tmp_path / "kb.version"
    server = VersionedCache("kb", redis=redis_handle, version_file=shared)
    server.set("q", "old answer", server.get("q").version)
    assert server.get("q").value == "old answer"
    VersionedCache("kb", redis=None, version_file=shared).bump()
    assert server.get("q").value is None


def test_the_in_process_cache_is_bounded_and_expires(tmp_path: Path) -> None:
    cache = VersionedCache("local", ttl_s=0.05, max_entries=2)
    for key in ("a", "b", "c"):
        cache.set(key, key.upper(), cache.get(key).version)
    assert [cache.get(k).value for k in ("a", "b", "c")] == [None, "B", "C"]
    time.sleep(0.1)
    assert cache.get("c").value is None


def test_search_survives_redis_being_killed_and_counts_the_errors(
    tmp_path: Path,
    make_kb: Callable[..., KB],
    fake_embeddings: Embeddings,
    own_redis: RedisServer,
) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=own_redis.url, key_prefix="kbkill"))
    assert handle is not None
    try:
        kb = make_kb(fake_embeddings, redis_handle=handle)
        kb.ingestor.ingest([write_policy(tmp_path / "docs", 30)])
        expected = kb.knowledge_base.search(QUESTION, k=2)
        assert kb.knowledge_base.search(QUESTION, k=2) == expected
        assert kb.cache is not None
        assert kb.cache.stats()["hits"] == 1

        own_redis.kill()
        assert kb.knowledge_base.search(QUESTION, k=2) == expected
        stats = kb.cache.stats()
        assert stats["errors"] >= 1
        assert stats["backend"] == "memory", "the cache falls back to in-process state"
        assert kb.knowledge_base.search(QUESTION, k=2) == expected

        write_policy(tmp_path / "docs", 60)
        summary = kb.ingestor.ingest([tmp_path / "docs"])
        assert summary.counts["replaced"] == 1
        assert summary.cache_error is not None, "the operator learns Redis was not invalidated"
        assert "redis: ConnectionError" in summary.cache_error
        chunks = " ".join(r.chunk for r in kb.knowledge_base.search(QUESTION, k=2))
        assert "60 days" in chunks
        assert "30 days" not in chunks
    finally:
        handle.close()


async def test_async_search_with_an_unreachable_redis(
    tmp_path: Path,
    make_kb: Callable[..., KB],
    fake_embeddings: Embeddings,
    own_redis: RedisServer,
) -> None:
    own_redis.kill()
    handle = RedisHandle.from_config(RedisConfig(url=own_redis.url, key_prefix="kbdown"))
    assert handle is not None
    try:
        kb = make_kb(fake_embeddings, redis_handle=handle)
        summary = await kb.ingestor.aingest([write_policy(tmp_path / "docs", 30)])
        assert summary.counts["added"] == 2
        assert summary.cache_error is not None
        assert "not invalidated (redis: ConnectionError)" in summary.cache_error
        tool = build_search_tool(kb.knowledge_base)
        payload = json.loads(await tool.ainvoke({"query": QUESTION, "k": 2}))
        assert {r["source"] for r in payload["results"]} == {"returns.md", "shipping.md"}
        assert kb.cache is not None
        assert kb.cache.stats()["errors"] >= 1
    finally:
        await handle.aclose()


def test_a_failed_bump_is_an_error_not_silence(tmp_path: Path, own_redis: RedisServer) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=own_redis.url, key_prefix="kbbump"))
    assert handle is not None
    try:
        cache = VersionedCache("kb", redis=handle)
        own_redis.kill()
        with pytest.raises(CacheInvalidationError, match="cached answers may be served"):
            cache.bump()
        assert cache.stats()["errors"] == 1
    finally:
        handle.close()


def test_caches_built_without_a_shared_version_still_miss_after_an_ingest(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    """However a process wires its cache, an embedded store's change reaches its keys."""
    server = make_kb(local_embeddings, cache=False)
    cached = KnowledgeBase(
        server.store, local_embeddings, server.knowledge_base.config, cache=VersionedCache("a")
    )
    docs = write_policy(tmp_path / "docs", 30)
    server.ingestor.ingest([docs])
    for _ in range(2):
        assert "30 days" in cached.search(QUESTION, k=1)[0].chunk

    other = make_kb(local_embeddings, cache=False)
    write_policy(docs, 60)
    other.ingestor.ingest([docs])
    assert "60 days" in cached.search(QUESTION, k=1)[0].chunk
