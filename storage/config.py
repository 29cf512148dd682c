"""Configuration models for the storage layer.

They are plain Pydantic models so that ``storage`` never reads the environment itself:
``agent.settings.Settings`` composes them, validates once at start-up and passes them down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, Field, SecretStr, model_validator

from storage.memory_types import default_ttls


def split_password(url: str) -> tuple[str, str | None]:
    """Remove a password embedded in a URL so it can live in a ``SecretStr`` instead."""
    parts = urlsplit(url)
    if parts.password is None:
        return url, None
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}@{host}" if user else host
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    return urlunsplit(
        (parts.scheme, netloc, parts.path, parts.query, parts.fragment)
    ), parts.password


class _URLWithSecret(BaseModel):
    """A connection URL whose password is kept apart, so reprs and logs never show it."""

    url: str | None = None
    password: SecretStr | None = Field(
        default=None,
        description="Password for the URL; may be a reference (env://NAME or file:///path).",
    )

    @model_validator(mode="after")
    def _move_password_out_of_url(self) -> _URLWithSecret:
        if self.url:
            url, password = split_password(self.url)
            if password is not None:
                self.url = url
                if self.password is None:
                    self.password = SecretStr(password)
        return self


class DatabaseConfig(_URLWithSecret):
    url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL. Empty: an SQLite file in the data directory. "
            "Production: postgresql+psycopg://user@host:5432/db (the plain DATABASE_URL "
            "variable is read too)."
        ),
    )
    pool_size: int = Field(
        default=5,
        ge=1,
        le=200,
        description=(
            "Pooled Postgres connections, per pool: sync and async, each with a pool for "
            "transactions and one for autocommit statements, opened only when used."
        ),
    )
    max_overflow: int = Field(
        default=10, ge=0, le=200, description="Extra connections past the pool."
    )
    pool_timeout_s: float = Field(default=5.0, gt=0, description="Wait for a free connection.")
    pool_recycle_s: int = Field(
        default=1800, ge=-1, description="Reconnect connections older than this."
    )
    pool_pre_ping: bool = Field(
        default=False,
        description=(
            "Test each Postgres connection with a round trip before handing it out. Off: after "
            "a server restart, the first call through each pool fails with a retryable error, "
            "that pool is replaced and the tools' retry repeats the call; the round trip is "
            "saved on every operation (about a third of a remember)."
        ),
    )
    connect_timeout_s: int = Field(default=5, ge=1, le=120, description="Postgres connect timeout.")
    statement_timeout_ms: int = Field(
        default=15_000, ge=0, description="Postgres statement_timeout (0: none)."
    )
    application_name: str = Field(
        default="support-agent", max_length=63, description="Shown in pg_stat_activity."
    )
    sqlite_busy_timeout_ms: int = Field(default=5_000, ge=0, description="SQLite busy_timeout.")
    auto_migrate: bool = Field(
        default=True, description="Apply migrations at start-up (only ever done for SQLite)."
    )


class RedisConfig(_URLWithSecret):
    url: str | None = Field(
        default=None,
        description=(
            "redis://host:6379/0. Empty: shared state stays in-process (single process only). "
            "The plain REDIS_URL variable is read too."
        ),
    )
    socket_timeout_s: float = Field(default=0.05, gt=0, le=5, description="Per-command timeout.")
    connect_timeout_s: float = Field(default=0.05, gt=0, le=5, description="Connect timeout.")
    key_prefix: str = Field(
        default="sa", pattern=r"^[A-Za-z0-9_.:-]{1,32}$", description="Namespace for every key."
    )


class ChromaConfig(BaseModel):
    server_url: str | None = Field(
        default=None,
        description="Chroma server (http://host:8000). Empty: embedded in the data directory.",
    )
    api_key: SecretStr | None = Field(default=None, description="Token sent to a Chroma server.")
    persist_dir: Path | None = Field(
        default=None, description="Embedded store location (default: DATA_DIR/chroma)."
    )
    collection: str = Field(
        default="knowledge_base",
        pattern=r"^[A-Za-z0-9_-]{3,63}$",
        description="Knowledge-base collection.",
    )


class EmbeddingConfig(BaseModel):
    provider: Literal["local", "openai", "fake"] = Field(
        default="local",
        description="local: bundled all-MiniLM-L6-v2 on onnxruntime; openai: OpenAI API; fake: tests only.",
    )
    model_dir: Path | None = Field(
        default=None,
        description="Directory with model.onnx and tokenizer.json (default: bundled files).",
    )
    batch_size: int = Field(default=32, ge=1, le=1024, description="Sentences per ONNX batch.")
    max_length: int = Field(default=256, ge=8, le=512, description="Tokens kept per sentence.")
    threads: int = Field(
        default=0, ge=0, le=64, description="onnxruntime intra-op threads (0: all cores)."
    )
    openai_model: str = Field(
        default="text-embedding-3-small", description="Model for provider=openai."
    )
    openai_api_key: SecretStr | None = Field(
        default=None, description="API key for provider=openai."
    )
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible endpoint.")


class MemoryConfig(BaseModel):
    """Dedup thresholds, decay, retention and input bounds of the memory store."""

    semantic_dedup: bool = Field(
        default=True, description="Treat a memory whose embedding is close enough as a duplicate."
    )
    semantic_threshold: float = Field(
        default=0.88,
        gt=0,
        le=1,
        description=(
            "Cosine at or above which two memories are duplicates, if the guard tier finds no "
            "difference (numbers, negation, direction, names, slot values). 0.88 favours "
            "precision: merge precision 1.00 on our customer-fact pairs and StackFAQ, 0.81 on "
            "STS-B (bench.memory)."
        ),
    )
    simhash_radius: int = Field(
        default=4,
        ge=0,
        le=5,
        description="Hamming radius of the 64-bit SimHash near-duplicate tier (4 matched no "
        "unrelated pair on STS-B / StackFAQ).",
    )
    half_life_days: float = Field(
        default=30.0, gt=0, description="Importance halves after this long without reinforcement."
    )
    ttl_s: dict[str, int | None] = Field(
        default_factory=default_ttls,
        description="TTL in seconds per content type (missing or null: default_ttl_s); "
        "defaults and rules in storage/memory_types.py.",
    )
    default_ttl_s: int | None = Field(
        default=None, ge=1, description="TTL for content types not in ttl_s (empty: keep)."
    )
    forget_grace_s: int = Field(
        default=86_400,
        ge=0,
        description="A forgotten memory's text is hard-deleted by the first sweep after this.",
    )
    sweep_batch_size: int = Field(default=500, ge=1, le=10_000, description="Rows per sweep batch.")
    sweep_interval_s: float = Field(
        default=3600.0,
        ge=0,
        description="Seconds between sweeps inside a running server (0: only `support-agent sweep`).",
    )
    supersede_threshold: float = Field(
        default=0.85,
        gt=0,
        le=1,
        description=(
            "Cosine at or above which a memory of the same type that says the opposite (a "
            "negation or direction flipped, nothing else different) is replaced by the new one."
        ),
    )
    max_content_chars: int = Field(
        default=4_000, ge=16, le=100_000, description="Longest memory text after cleaning."
    )
    max_metadata_bytes: int = Field(
        default=4_096, ge=64, le=1_000_000, description="Largest metadata as compact JSON."
    )
    max_metadata_depth: int = Field(default=4, ge=1, le=32, description="Deepest metadata nesting.")
    max_recall_limit: int = Field(default=50, ge=1, le=1_000, description="Largest recall limit.")


class EncryptionConfig(BaseModel):
    """Encryption at rest of customer text (``storage.sealing``)."""

    keys: SecretStr | None = Field(
        default=None,
        description=(
            "Key-encryption keys (Fernet), comma-separated, newest first; required with "
            "environment=production. Empty: stored in the clear (demo). Give as env://NAME or "
            "file:///run/secrets/NAME; make one with `support-agent encryption new-key`."
        ),
    )
