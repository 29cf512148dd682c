"""The schema refuses rows that break what the code assumes, on both backends (migration 0006)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from storage.engine import Database
from storage.memory.tables import memories
from storage.tickets.tables import TicketRow

TICKETS = TicketRow.__table__


def memory_row(**overrides: Any) -> dict[str, Any]:
    now = time.time()
    return {
        "id": uuid.uuid4().hex,
        "tenant_id": "t-check",
        "user_id": "u",
        "content_type": "fact",
        "content": "a fact",
        "content_hash": uuid.uuid4().hex,
        "simhash": 0,
        "importance": 0.5,
        "access_count": 0,
        "metadata_json": "{}",
        "created_at": now,
        "reinforced_at": now,
        **overrides,
    }


def ticket_row(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": uuid.uuid4().hex,
        "tenant_id": "t-check",
        "customer_ref": "c",
        "reason": f"r-{uuid.uuid4().hex[:8]}",
        "status": "open",
        "priority": "normal",
        "summary": "s",
        "handoff": {},
        "webhook_status": "disabled",
        "sla_due_at": now,
        "created_at": now,
        "updated_at": now,
        **overrides,
    }


@pytest.mark.parametrize(
    "bad",
    [{"importance": 1.5}, {"importance": -0.1}, {"access_count": -1}, {"content_type": "gossip"}],
)
def test_memory_rows_breaking_a_check_are_refused(memory_database: Database, bad: dict) -> None:
    with memory_database.transaction() as connection:
        connection.execute(insert(memories), memory_row())  # a valid row goes in
    with pytest.raises(IntegrityError), memory_database.transaction() as connection:
        connection.execute(insert(memories), memory_row(**bad))


@pytest.mark.parametrize(
    "bad", [{"status": "lost"}, {"priority": "whenever"}, {"webhook_status": "maybe"}]
)
def test_ticket_rows_breaking_a_check_are_refused(memory_database: Database, bad: dict) -> None:
    with memory_database.transaction() as connection:
        connection.execute(insert(TICKETS), ticket_row())
    with pytest.raises(IntegrityError), memory_database.transaction() as connection:
        connection.execute(insert(TICKETS), ticket_row(**bad))


def test_the_migration_checks_what_the_code_allows_today() -> None:
    """The migration freezes its lists; a value added in code needs a migration too."""
    import importlib

    from storage.memory_types import CONTENT_TYPES
    from storage.tickets.tables import TICKET_PRIORITIES, TICKET_STATUSES, WEBHOOK_STATUSES

    migration = importlib.import_module(
        "storage.migrations.versions.0006_memory_corrections_checks"
    )
    assert migration.CONTENT_TYPES == CONTENT_TYPES
    assert migration.TICKET_STATUSES == TICKET_STATUSES
    assert migration.TICKET_PRIORITIES == TICKET_PRIORITIES
    assert migration.WEBHOOK_STATUSES == WEBHOOK_STATUSES
