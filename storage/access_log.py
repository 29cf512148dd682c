"""Who read whose personal data, and when: never what was read.

Reads of a customer's data (their CRM profile or orders, their memories, an export) are
recorded with the tenant, the reader (id and role), the customer and the action, so a
customer or an auditor can ask "who looked at my data". There is no content, no query and no
order number in an entry. Entries about or by a customer are erased with them (``purge``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Column, DateTime, Index, delete, insert, or_, select
from sqlmodel import Field, SQLModel

from storage.crm.tables import utcnow
from storage.engine import Database

Action = Literal["lookup_customer", "get_order", "recall", "export"]
Outcome = Literal["found", "not_found"]


class AccessEntry(SQLModel, table=True):
    __tablename__ = "access_log"
    __table_args__ = (Index("ix_access_log_subject", "tenant_id", "subject_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    tenant_id: str = Field(max_length=64)
    actor_id: str | None = Field(default=None, max_length=64)
    actor_role: str = Field(max_length=16)
    subject_id: str | None = Field(default=None, max_length=64)
    action: str = Field(max_length=32)
    outcome: str = Field(max_length=16)
    at: datetime = Field(
        default_factory=utcnow, sa_column=Column(DateTime(timezone=True), nullable=False)
    )


_TABLE = AccessEntry.__table__  # type: ignore[attr-defined]
_FIELDS = ("tenant_id", "actor_id", "actor_role", "subject_id", "action", "outcome")
log = logging.getLogger(__name__)


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    return {**{name: entry[name] for name in _FIELDS}, "at": utcnow()}


class AccessLog:
    """Appends and erases entries on the application database.

    Recording is best effort: a failed write is logged (without the entry) and the read it
    describes goes on, so an audit outage never takes customer support down with it.
    """

    def __init__(self, database: Database) -> None:
        self.database = database

    def record(self, **entry: Any) -> None:
        """Append one entry: ``tenant_id``, ``actor_id``, ``actor_role``, ``subject_id``,
        ``action`` (an ``Action``) and ``outcome`` (an ``Outcome``)."""
        try:
            with self.database.transaction() as connection:
                connection.execute(insert(_TABLE).values(_row(entry)))
        except Exception as exc:
            log.error("access log write failed (%s)", type(exc).__name__)

    async def arecord(self, **entry: Any) -> None:
        try:
            async with self.database.atransaction() as connection:
                await connection.execute(insert(_TABLE).values(_row(entry)))
        except Exception as exc:
            log.error("access log write failed (%s)", type(exc).__name__)

    async def afor_customer(self, tenant_id: str, user_id: str) -> list[dict[str, Any]]:
        """The entries about ``user_id``: who read their data, oldest first."""
        query = (
            select(
                _TABLE.c.actor_id,
                _TABLE.c.actor_role,
                _TABLE.c.action,
                _TABLE.c.outcome,
                _TABLE.c.at,
            )
            .where(_TABLE.c.tenant_id == tenant_id, _TABLE.c.subject_id == user_id)
            .order_by(_TABLE.c.at, _TABLE.c.id)
        )
        async with self.database.atransaction() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [{**row, "at": row["at"].isoformat()} for row in rows]

    async def apurge(self, tenant_id: str, user_id: str) -> int:
        """Erase the entries about or by ``user_id``; returns how many."""
        statement = delete(_TABLE).where(
            _TABLE.c.tenant_id == tenant_id,
            or_(_TABLE.c.subject_id == user_id, _TABLE.c.actor_id == user_id),
        )
        async with self.database.atransaction() as connection:
            result = await connection.execute(statement)
        return int(result.rowcount or 0)
