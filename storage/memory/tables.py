"""The memory store's tables.

Times are epoch seconds in a float column: the same comparison and index behaviour on SQLite
and Postgres, and cheap to decay in numpy. Vectors are a float16 blob in the memory row (see
``vector_codec``), so a user's recall is one indexed fetch and purge or isolation of vectors needs no second store.
SimHash bands reference their memory with ON DELETE CASCADE (SQLite runs with foreign keys
on), so every hard delete of a memory takes its bands along.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
)
from sqlmodel import Field, SQLModel

ID_LENGTH = 128
MEMORY_ID_LENGTH = 32
CONTENT_TYPE_LENGTH = 32


class Memory(SQLModel, table=True):
    __tablename__ = "memories"
    __table_args__ = (
        Index(
            "uq_memories_live_hash",
            "tenant_id",
            "user_id",
            "content_type",
            "content_hash",
            unique=True,
            postgresql_where=Column("deleted_at").is_(None),
            sqlite_where=Column("deleted_at").is_(None),
        ),
        Index("ix_memories_scope", "tenant_id", "user_id"),
        Index(
            "ix_memories_expires_at",
            "expires_at",
            postgresql_where=Column("expires_at").isnot(None),
            sqlite_where=Column("expires_at").isnot(None),
        ),
        Index(
            "ix_memories_deleted_at",
            "deleted_at",
            postgresql_where=Column("deleted_at").isnot(None),
            sqlite_where=Column("deleted_at").isnot(None),
        ),
    )

    id: str = Field(primary_key=True, max_length=MEMORY_ID_LENGTH)
    tenant_id: str = Field(max_length=ID_LENGTH)
    user_id: str = Field(max_length=ID_LENGTH)
    session_id: str | None = Field(default=None, max_length=ID_LENGTH)
    content_type: str = Field(max_length=CONTENT_TYPE_LENGTH)
    content: str = Field(sa_type=Text)
    content_hash: str = Field(max_length=64)
    simhash: int = Field(sa_type=BigInteger)
    importance: float
    access_count: int = 0
    metadata_json: str = Field(default="{}", sa_type=Text)
    embedding: bytes | None = Field(default=None, sa_type=LargeBinary)
    created_at: float
    reinforced_at: float
    last_accessed_at: float | None = None
    expires_at: float | None = None
    deleted_at: float | None = None


class MemorySimhashBand(SQLModel, table=True):
    """One 16-bit band of a memory's SimHash: equal bands find near-duplicates without a scan."""

    __tablename__ = "memory_simhash_bands"
    __table_args__ = (
        Index(
            "ix_memory_simhash_bands_lookup",
            "tenant_id",
            "user_id",
            "content_type",
            "band",
            "value",
        ),
    )

    memory_id: str = Field(
        sa_column=Column(
            String(MEMORY_ID_LENGTH),
            ForeignKey("memories.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    band: int = Field(sa_column=Column(SmallInteger, primary_key=True, autoincrement=False))
    value: int
    tenant_id: str = Field(max_length=ID_LENGTH)
    user_id: str = Field(max_length=ID_LENGTH)
    content_type: str = Field(max_length=CONTENT_TYPE_LENGTH)


class MemoryAudit(SQLModel, table=True):
    """Who changed which memory, when and how; never the content."""

    __tablename__ = "memory_audit"
    __table_args__ = (Index("ix_memory_audit_scope", "tenant_id", "user_id"),)

    id: int | None = Field(
        default=None,
        sa_column=Column(
            BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
        ),
    )
    at: float
    tenant_id: str = Field(max_length=ID_LENGTH)
    user_id: str | None = Field(default=None, max_length=ID_LENGTH)
    session_id: str | None = Field(default=None, max_length=ID_LENGTH)
    action: str = Field(max_length=16)
    memory_id: str | None = Field(default=None, max_length=MEMORY_ID_LENGTH)
    detail: str = Field(default="{}", sa_type=Text)


class MemoryScopeVersion(SQLModel, table=True):
    """The current version of one scope's memories, for remember's snapshots.

    A random 63-bit value replaced by every remember write on Postgres (never reused, so a
    snapshot read before a purge can never match a row created after it).
    """

    __tablename__ = "memory_scope_versions"

    tenant_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    user_id: str = Field(primary_key=True, max_length=ID_LENGTH)
    content_type: str = Field(primary_key=True, max_length=CONTENT_TYPE_LENGTH)
    version: int = Field(sa_type=BigInteger)


memories: Table = Memory.__table__  # type: ignore[assignment]
bands: Table = MemorySimhashBand.__table__  # type: ignore[assignment]
audit: Table = MemoryAudit.__table__  # type: ignore[assignment]
scope_versions: Table = MemoryScopeVersion.__table__  # type: ignore[assignment]
