"""Memory embeddings stored as float16 instead of float32 (half the bytes every fetch moves).

Revision ID: 0003_memory_float16_vectors
Revises: 0002_crm_tickets
Create Date: 2026-11-24

The column keeps its name and type (a blob); only its encoding changes, so the rows are
rewritten in batches by primary key. Downgrade widens them back to float32 (the values
keep float16 precision, which the older code reads like any other vector).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import sqlalchemy as sa
from alembic import op

revision: str = "0003_memory_float16_vectors"
down_revision: str | None = "0002_crm_tickets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1_000
_memories = sa.table("memories", sa.column("id", sa.String), sa.column("embedding", sa.LargeBinary))


def _recode(source: str, target: str) -> None:
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(
            sa.select(_memories.c.id, _memories.c.embedding)
            .where(_memories.c.id > after, _memories.c.embedding.is_not(None))
            .order_by(_memories.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(_memories)
            .where(_memories.c.id == sa.bindparam("row_id"))
            .values(embedding=sa.bindparam("blob")),
            [
                {
                    "row_id": row.id,
                    "blob": np.frombuffer(row.embedding, dtype=source).astype(target).tobytes(),
                }
                for row in rows
            ],
        )
        after = rows[-1].id


def upgrade() -> None:
    _recode("<f4", "<f2")


def downgrade() -> None:
    _recode("<f2", "<f4")
