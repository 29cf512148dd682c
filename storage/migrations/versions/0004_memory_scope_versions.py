"""A version per (tenant, user, content type) for remember's in-process scope snapshots.

Revision ID: 0004_memory_scope_versions
Revises: 0003_memory_float16_vectors
Create Date: 2026-11-24

Every remember write replaces the scope's version with a fresh random one, and applies only
if the version it read is still current; forget and purge delete the row. A process whose
snapshot of the scope is stale therefore retries instead of deciding from old data.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_memory_scope_versions"
down_revision: str | None = "0003_memory_float16_vectors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "memory_scope_versions",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("content_type", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("memory_scope_versions")
