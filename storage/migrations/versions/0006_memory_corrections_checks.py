"""One remember algorithm: corrections, no scope versions or SimHash bands; CHECK constraints.

Revision ID: 0006_memory_corrections_checks
Revises: 0005_access_log
Create Date: 2026-12-05

- ``memories`` gains ``superseded_by`` / ``superseded_at`` (a correction replaced the row)
  and ``slots`` (the customer attributes its text states); the unique index of live hashes
  leaves superseded rows out, so a customer can go back to an earlier value.
- ``memory_scope_versions`` (per-process snapshots) and ``memory_simhash_bands`` go: remember
  reads a scope's SimHashes with its other fingerprints under the scope's lock.
- CHECK constraints: importance in [0, 1], access count >= 0, known memory types; ticket
  status, priority and webhook status. Existing rows that break one are not fixed silently:
  the migration fails and names the constraint.
SQLite runs in batch mode (the table is copied), Postgres alters in place.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from storage.checks import one_of

revision: str = "0006_memory_corrections_checks"
down_revision: str | None = "0005_access_log"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies: a migration must keep meaning what it meant when it was written.
CONTENT_TYPES = ("fact", "preference", "identifier", "issue", "episode", "session")
TICKET_STATUSES = ("open", "in_progress", "resolved", "closed")
TICKET_PRIORITIES = ("low", "normal", "high", "urgent")
WEBHOOK_STATUSES = ("disabled", "pending", "delivering", "delivered", "failed")
OLD_LIVE = "deleted_at IS NULL"
NEW_LIVE = "deleted_at IS NULL AND superseded_by IS NULL"
MEMORY_CHECKS = {
    "ck_memories_importance": "importance >= 0 AND importance <= 1",
    "ck_memories_access_count": "access_count >= 0",
    "ck_memories_content_type": one_of("content_type", CONTENT_TYPES),
}
TICKET_CHECKS = {
    "ck_tickets_status": one_of("status", TICKET_STATUSES),
    "ck_tickets_priority": one_of("priority", TICKET_PRIORITIES),
    "ck_tickets_webhook_status": one_of("webhook_status", WEBHOOK_STATUSES),
}


def _live_hash_index(predicate: str) -> None:
    op.create_index(
        "uq_memories_live_hash",
        "memories",
        ["tenant_id", "user_id", "content_type", "content_hash"],
        unique=True,
        postgresql_where=sa.text(predicate),
        sqlite_where=sa.text(predicate),
    )


def upgrade() -> None:
    op.drop_table("memory_scope_versions")
    op.drop_index("ix_memory_simhash_bands_lookup", table_name="memory_simhash_bands")
    op.drop_table("memory_simhash_bands")
    op.drop_index("uq_memories_live_hash", table_name="memories")
    with op.batch_alter_table("memories") as batch:
        batch.add_column(sa.Column("superseded_by", sa.String(32), nullable=True))
        batch.add_column(sa.Column("superseded_at", sa.Float(), nullable=True))
        batch.add_column(sa.Column("slots", sa.Text(), nullable=False, server_default=""))
        for name, condition in MEMORY_CHECKS.items():
            batch.create_check_constraint(name, condition)
    _live_hash_index(NEW_LIVE)
    with op.batch_alter_table("tickets") as batch:
        for name, condition in TICKET_CHECKS.items():
            batch.create_check_constraint(name, condition)


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        for name in TICKET_CHECKS:
            batch.drop_constraint(name, type_="check")
    op.drop_index("uq_memories_live_hash", table_name="memories")
    op.execute(sa.text("DELETE FROM memories WHERE superseded_by IS NOT NULL"))
    with op.batch_alter_table("memories") as batch:
        for name in MEMORY_CHECKS:
            batch.drop_constraint(name, type_="check")
        batch.drop_column("slots")
        batch.drop_column("superseded_at")
        batch.drop_column("superseded_by")
    _live_hash_index(OLD_LIVE)
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
        "memory_scope_versions",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("user_id", sa.String(128), primary_key=True),
        sa.Column("content_type", sa.String(32), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
