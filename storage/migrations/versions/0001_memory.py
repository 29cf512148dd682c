"""Memory store: memories, SimHash bands, audit trail.

Revision ID: 0001_memory
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_memory"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memories",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("simhash", sa.BigInteger(), nullable=False),
        sa.Column("importance", sa.Float(), nullable=False),
        sa.Column("access_count", sa.Integer(), nullable=False),
        sa.Column("metadata_json", sa.Text(), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("reinforced_at", sa.Float(), nullable=False),
        sa.Column("last_accessed_at", sa.Float(), nullable=True),
        sa.Column("expires_at", sa.Float(), nullable=True),
        sa.Column("deleted_at", sa.Float(), nullable=True),
    )
    op.create_index(
        "uq_memories_live_hash",
        "memories",
        ["tenant_id", "user_id", "content_type", "content_hash"],
        unique=True,
        postgresql_where=sa.text("deleted_at IS NULL"),
        sqlite_where=sa.text("deleted_at IS NULL"),
    )
    op.create_index("ix_memories_scope", "memories", ["tenant_id", "user_id"])
    op.create_index(
        "ix_memories_expires_at",
        "memories",
        ["expires_at"],
        postgresql_where=sa.text("expires_at IS NOT NULL"),
        sqlite_where=sa.text("expires_at IS NOT NULL"),
    )
    op.create_index(
        "ix_memories_deleted_at",
        "memories",
        ["deleted_at"],
        postgresql_where=sa.text("deleted_at IS NOT NULL"),
        sqlite_where=sa.text("deleted_at IS NOT NULL"),
    )
    op.create_table(
        "memory_simhash_bands",
        sa.Column(
            "memory_id",
            sa.String(32),
            sa.ForeignKey("memories.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("band", sa.SmallInteger(), primary_key=True, autoincrement=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_memory_simhash_bands_lookup",
        "memory_simhash_bands",
        ["tenant_id", "user_id", "content_type", "band", "value"],
    )
    op.create_table(
        "memory_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("tenant_id", sa.String(128), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("session_id", sa.String(128), nullable=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("memory_id", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_memory_audit_scope", "memory_audit", ["tenant_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_memory_audit_scope", table_name="memory_audit")
    op.drop_table("memory_audit")
    op.drop_index("ix_memory_simhash_bands_lookup", table_name="memory_simhash_bands")
    op.drop_table("memory_simhash_bands")
    op.drop_index("ix_memories_deleted_at", table_name="memories")
    op.drop_index("ix_memories_expires_at", table_name="memories")
    op.drop_index("ix_memories_scope", table_name="memories")
    op.drop_index("uq_memories_live_hash", table_name="memories")
    op.drop_table("memories")
