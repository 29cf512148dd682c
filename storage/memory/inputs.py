"""Validation of everything a caller passes to the store, before any I/O.

Nothing is truncated silently: an over-long text or metadata is rejected with the limit, so a
caller never believes a fact was stored whole when it was not.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from storage.config import MemoryConfig
from storage.memory.errors import InvalidMemoryInputError
from storage.memory_types import CONTENT_TYPES
from storage.text import clean_text

MAX_TTL_S = 10 * 365 * 86_400
MAX_DIMENSION = 8_192

Model = TypeVar("Model", bound=BaseModel)
# One encoder for the size check and for storage, built once (``json.dumps`` with options
# builds a new encoder per call).
_JSON = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"), sort_keys=True)


def _config(info: ValidationInfo) -> MemoryConfig:
    return (info.context or {}).get("config") or MemoryConfig()


def _bounded_text(value: str, info: ValidationInfo) -> str:
    cleaned = clean_text(value)
    if not cleaned:
        raise ValueError("is empty after removing control characters and whitespace")
    limit = _config(info).max_content_chars
    if len(cleaned) > limit:
        raise ValueError(f"is {len(cleaned)} characters; the limit is {limit}")
    return cleaned


def _depth(value: Any, limit: int) -> int:
    """Nesting depth, walked iteratively so a hostile structure cannot exhaust the stack."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list | tuple):
            deepest = max(deepest, depth)
            if deepest > limit:
                return deepest
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def _known_type(value: str) -> str:
    if value not in CONTENT_TYPES:
        raise ValueError(f"{value[:40]!r} is not a memory type (one of {', '.join(CONTENT_TYPES)})")
    return value


class RememberInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: str
    content_type: str = "fact"
    importance: float = Field(default=0.5, ge=0, le=1, allow_inf_nan=False)
    metadata: dict[str, Any] = Field(default_factory=dict)
    ttl_s: int | None = Field(default=None, ge=1, le=MAX_TTL_S)

    @field_validator("content")
    @classmethod
    def _content(cls, value: str, info: ValidationInfo) -> str:
        return _bounded_text(value, info)

    @field_validator("content_type")
    @classmethod
    def _content_type(cls, value: str) -> str:
        return _known_type(value)

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        config = _config(info)
        if _depth(value, config.max_metadata_depth) > config.max_metadata_depth:
            raise ValueError(f"is nested deeper than {config.max_metadata_depth} levels")
        try:
            encoded = _JSON.encode(value)
        except (TypeError, ValueError):
            raise ValueError(
                "must be JSON-serialisable (str, number, bool, null, list, dict)"
            ) from None
        size = len(encoded.encode("utf-8"))
        if size > config.max_metadata_bytes:
            raise ValueError(f"is {size} bytes as JSON; the limit is {config.max_metadata_bytes}")
        return value

    @functools.cached_property
    def metadata_json(self) -> str:
        return _JSON.encode(self.metadata)


class RecallInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str
    content_types: list[str] | None = Field(default=None, min_length=1, max_length=32)
    limit: int = Field(default=5, ge=1)

    @field_validator("query")
    @classmethod
    def _query(cls, value: str, info: ValidationInfo) -> str:
        return _bounded_text(value, info)

    @field_validator("content_types")
    @classmethod
    def _content_types(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            for item in value:
                _known_type(item)
        return value

    @field_validator("limit")
    @classmethod
    def _limit(cls, value: int, info: ValidationInfo) -> int:
        limit = _config(info).max_recall_limit
        if value > limit:
            raise ValueError(f"is {value}; the largest allowed is {limit}")
        return value


def parse(model: type[Model], config: MemoryConfig, **values: Any) -> Model:
    """Validate, turning Pydantic's error into one that names the field and never echoes input."""
    try:
        return model.model_validate(values, context={"config": config})
    except ValidationError as exc:
        error = exc.errors(include_input=False, include_url=False)[0]
        field = ".".join(str(part) for part in error["loc"]) or model.__name__
        raise InvalidMemoryInputError(field, error["msg"].removeprefix("Value error, ")) from None


def unit_vector(field: str, vector: Sequence[float] | np.ndarray) -> np.ndarray:
    """A caller-supplied embedding as a finite, non-zero, L2-normalised float32 vector."""
    try:
        array = np.asarray(vector, dtype=np.float32)
    except (TypeError, ValueError):
        raise InvalidMemoryInputError(field, "must be a sequence of numbers") from None
    if array.ndim != 1 or not 1 <= array.shape[0] <= MAX_DIMENSION:
        raise InvalidMemoryInputError(field, f"must be one vector of 1-{MAX_DIMENSION} numbers")
    wide = array.astype(np.float64)  # squares of float32 values overflow float32
    norm = math.sqrt(float(wide @ wide))  # NaN or infinity anywhere: not finite
    if not math.isfinite(norm):
        raise InvalidMemoryInputError(field, "contains NaN or infinity")
    if norm == 0:
        raise InvalidMemoryInputError(field, "has zero length")
    return (wide / norm).astype(np.float32)
