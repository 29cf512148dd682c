"""What the store returns. Plain frozen dataclasses: built on every hot-path call."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Row

from storage.sealing import PLAIN, TenantKey

DedupTier = Literal["exact", "near", "semantic"]


@dataclass(frozen=True, slots=True)
class MemoryRecord:
    id: str
    tenant_id: str
    user_id: str
    session_id: str | None
    content_type: str
    content: str
    importance: float
    access_count: int
    metadata: dict[str, Any]
    created_at: float
    reinforced_at: float
    last_accessed_at: float | None
    expires_at: float | None

    @classmethod
    def from_row(cls, row: Row[Any], key: TenantKey = PLAIN) -> MemoryRecord:
        record = cls.opened(row, key)
        if record is None:
            raise LookupError("memory sealed under a destroyed tenant key")
        return record

    @classmethod
    def opened(cls, row: Row[Any], key: TenantKey) -> MemoryRecord | None:
        """The row with its text opened; ``None`` if its tenant key was destroyed (erased)."""
        values = row._mapping
        content = key.open_text(values["content"])
        metadata = key.open_text(values["metadata_json"])
        if content is None or metadata is None:
            return None
        return cls(
            id=values["id"],
            tenant_id=values["tenant_id"],
            user_id=values["user_id"],
            session_id=values["session_id"],
            content_type=values["content_type"],
            content=content,
            importance=values["importance"],
            access_count=values["access_count"],
            metadata=json.loads(metadata),
            created_at=values["created_at"],
            reinforced_at=values["reinforced_at"],
            last_accessed_at=values["last_accessed_at"],
            expires_at=values["expires_at"],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe, times as ISO 8601 UTC."""
        data = asdict(self)
        for key in ("created_at", "reinforced_at", "last_accessed_at", "expires_at"):
            data[key] = iso(data[key])
        return data


def iso(epoch: float | None) -> str | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class RememberResult:
    memory: MemoryRecord
    deduped: bool
    dedup_tier: DedupTier | None = None
    duplicate_of: str | None = None
    # The memories this one corrected: no longer current, kept for audit until purged.
    superseded: tuple[MemoryRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class RecalledMemory:
    memory: MemoryRecord
    score: float
