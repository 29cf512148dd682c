"""Knowledge-base fixtures: stores in temp dirs, real embeddings, a killable redis-server."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from storage.cache import VersionedCache
from storage.config import ChromaConfig, EmbeddingConfig, RedisConfig
from storage.embeddings import build_embeddings
from storage.redis import RedisHandle
from storage.vectorstore import VectorStore
from tests.redis_server import RedisServer, free_port
from tools.config import KnowledgeBaseConfig
from tools.knowledge_base import Ingestor, KnowledgeBase


@dataclass
class KB:
    store: VectorStore
    cache: VersionedCache | None
    knowledge_base: KnowledgeBase
    ingestor: Ingestor


def build_kb(
    data_dir: Path,
    embeddings: Embeddings,
    *,
    redis_handle: RedisHandle | None = None,
    config: KnowledgeBaseConfig | None = None,
    cache: bool = True,
    chroma: ChromaConfig | None = None,
) -> KB:
    config = config or KnowledgeBaseConfig(chunk_size=300, chunk_overlap=30)
    store = VectorStore(chroma or ChromaConfig(persist_dir=data_dir / "chroma"), embeddings)
    versioned = (
        VersionedCache(
            "kb",
            redis=redis_handle,
            ttl_s=config.cache_ttl_s,
            version_file=data_dir / "chroma" / "kb.version",
        )
        if cache
        else None
    )
    return KB(
        store,
        versioned,
        KnowledgeBase(store, embeddings, config, cache=versioned),
        Ingestor(store, embeddings, config, cache=versioned),
    )


@pytest.fixture
def fake_embeddings() -> Embeddings:
    return DeterministicFakeEmbedding(size=384)


@pytest.fixture(scope="session")
def local_embeddings() -> Embeddings:
    return build_embeddings(EmbeddingConfig())


@pytest.fixture
def make_kb(tmp_path: Path) -> Iterator[Callable[..., KB]]:
    built: list[KB] = []

    def make(embeddings: Embeddings, **options: object) -> KB:
        kb = build_kb(tmp_path, embeddings, **options)  # type: ignore[arg-type]
        built.append(kb)
        return kb

    yield make
    for kb in built:
        kb.store.close()


@pytest.fixture
def redis_handle(redis_url: str, redis_prefix: str) -> Iterator[RedisHandle]:
    handle = RedisHandle.from_config(
        RedisConfig(url=redis_url, key_prefix=redis_prefix, socket_timeout_s=1)
    )
    assert handle is not None
    yield handle
    handle.close()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path).start()
    yield server
    server.kill()


class ChromaServer:
    """``chroma run`` on a free port: the production vector store, started by the test."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        chroma = Path(sys.executable).with_name("chroma")
        self.process = subprocess.Popen(
            [
                str(chroma),
                "run",
                "--path",
                str(directory),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path_factory.mktemp("chroma-server"))
    yield server
    server.stop()
