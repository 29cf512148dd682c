"""The memory store's tables.

Times are epoch seconds in a float column: the same comparison and index behaviour on SQLite
and Postgres, and cheap to decay in numpy. Vectors are a float16 blob in the memory row (see
``vector_codec``), so a user's recall is one indexed fetch and purge or isolation of vectors needs no second store.
A memory replaced by a correction keeps its row (audit, undo) with ``superseded_by`` set: it
leaves the live set and the unique index of live hashes, and purge erases it like any other.
``slots`` lists the customer attributes the text states (``slots.keys``), so remember finds
the memories a correction replaces without reading every text. The CHECK constraints state
what the code assumes, so a row written around the store cannot break it either.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, Integer, LargeBinary, Table, Text
from sqlalchemy import text as sql_text
from sqlmodel import Field, SQLModel

from storage.checks import one_of
from storage.memory_types import CONTENT_TYPES

ID_LENGTH = 128
MEMORY_ID_LENGTH = 32
CONTENT_TYPE_LENGTH = 32
# Rows that are current: neither forgotten nor replaced (expiry is checked at query time).
LIVE_ROW = sql_text("deleted_at IS NULL AND superseded_by IS NULL")


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
            postgresql_where=LIVE_ROW,
            sqlite_where=LIVE_ROW,
        ),
        CheckConstraint("importance >= 0 AND importance <= 1", name="ck_memories_importance"),
        CheckConstraint("access_count >= 0", name="ck_memories_access_count"),
        CheckConstraint(one_of("content_type", CONTENT_TYPES), name="ck_memories_content_type"),
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
    superseded_by: str | None = Field(default=None, max_length=MEMORY_ID_LENGTH)
    superseded_at: float | None = None
    slots: str = Field(default="", sa_type=Text, sa_column_kwargs={"server_default": ""})


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


memories: Table = Memory.__table__  # type: ignore[assignment]
audit: Table = MemoryAudit.__table__  # type: ignore[assignment]
