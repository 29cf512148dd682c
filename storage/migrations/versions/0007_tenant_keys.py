"""Per-tenant data keys for encryption at rest (``storage.sealing``).

Revision ID: 0007_tenant_keys
Revises: 0006_memory_corrections_checks
Create Date: 2026-12-05

One row per tenant: its data key wrapped by the key-encryption key from the settings.
Existing rows are not rewritten: sealed and plaintext values are told apart when read, so
turning encryption on needs no data migration (rows written before stay as they were).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_tenant_keys"
down_revision: str | None = "0006_memory_corrections_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tenant_keys",
        sa.Column("tenant_id", sa.String(128), primary_key=True),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_keys")
