"""Long-term memory per (tenant, user): tiered dedup, decay-ranked recall, TTL, erasure."""

from storage.memory.errors import (
    EmbeddingFailedError,
    InvalidMemoryInputError,
    MemoryStorageError,
    MemoryStoreError,
)
from storage.memory.models import MemoryRecord, RecalledMemory, RememberResult
from storage.memory.scope import Scope
from storage.memory.store import MemoryStore

__all__ = [
    "EmbeddingFailedError",
    "InvalidMemoryInputError",
    "MemoryRecord",
    "MemoryStorageError",
    "MemoryStore",
    "MemoryStoreError",
    "RecalledMemory",
    "RememberResult",
    "Scope",
]
