"""Typed errors of the memory store; tools map them to structured ``ToolError`` payloads."""

from __future__ import annotations


class MemoryStoreError(Exception):
    """Base class: ``code`` is stable for programs, ``message`` is for people."""

    code = "memory_error"
    retryable = False

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidMemoryInputError(MemoryStoreError, ValueError):
    """An argument was rejected before anything was written; ``field`` names it."""

    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class MemoryStorageError(MemoryStoreError):
    """The database failed; the call's transaction was rolled back, nothing was written."""

    code = "storage_error"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class EmbeddingFailedError(MemoryStoreError):
    """The embedding model raised; nothing was written. Remote providers may recover."""

    code = "embedding_error"
    retryable = True
