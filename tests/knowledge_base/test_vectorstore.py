"""The Chroma wrapper: index settings, no telemetry, server URL validation, close/reopen."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import SecretStr

from storage.config import ChromaConfig
from storage.vectorstore import HnswParams, VectorStore

from .conftest import ChromaServer


def test_collection_is_cosine_with_our_hnsw_params_and_no_telemetry(tmp_path: Path) -> None:
    store = VectorStore(
        ChromaConfig(persist_dir=tmp_path / "chroma"),
        DeterministicFakeEmbedding(size=384),
        hnsw=HnswParams(ef_search=150, ef_construction=250, max_neighbors=24),
    )
    try:
        hnsw = store.collection.configuration["hnsw"]
        assert (hnsw["space"], hnsw["ef_search"], hnsw["ef_construction"]) == ("cosine", 150, 250)
        assert hnsw["max_neighbors"] == 24
        assert store.client.get_settings().anonymized_telemetry is False
        assert store.mode == "embedded"
    finally:
        store.close()


def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    embeddings = DeterministicFakeEmbedding(size=384)
    config = ChromaConfig(persist_dir=tmp_path / "chroma")
    store = VectorStore(config, embeddings)
    store.add(["a"], ["refunds take 5 days"], embeddings.embed_documents(["x"]), [{"source": "s"}])
    store.close()
    reopened = VectorStore(config, embeddings)
    try:
        assert reopened.ids_where() == {"a": {"source": "s"}}
        [hit] = reopened.search(embeddings.embed_documents(["x"])[0], k=1)
        assert (hit.id, hit.text, round(hit.score, 4)) == ("a", "refunds take 5 days", 1.0)
    finally:
        reopened.close()


def test_server_mode_with_a_token_and_bad_urls(chroma_server: ChromaServer) -> None:
    embeddings = DeterministicFakeEmbedding(size=384)
    store = VectorStore(
        ChromaConfig(
            server_url=chroma_server.url, api_key=SecretStr("t0ken"), collection="kb_server_mode"
        ),
        embeddings,
    )
    try:
        assert store.mode == "server"
        assert store.generation() == ""
        assert store.client.get_settings().anonymized_telemetry is False
        store.add(["a"], ["hello"], embeddings.embed_documents(["hello"]), [{"source": "s"}])
        assert store.count() == 1
    finally:
        store.client.delete_collection("kb_server_mode")
        store.close()
    with pytest.raises(ValueError, match="http://host:8000"):
        VectorStore(ChromaConfig(server_url="ftp://example"), embeddings)
