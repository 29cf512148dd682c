"""Escalation fixtures: a migrated database per backend and a fresh tenant per test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from sqlalchemy import func, select

from storage import migrate
from storage.config import DatabaseConfig
from storage.engine import Database
from storage.tickets import TicketRow, TicketStore
from tests.postgres_database import fresh_postgres_database
from tools.config import EscalationConfig
from tools.escalation import EscalationService, build_escalation_tool
from tools.resilience import Resilience, ResilienceConfig


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def tickets_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Database]:
    stack = ExitStack()
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('tickets') / 'tickets.db'}"
    else:
        url = stack.enter_context(
            fresh_postgres_database(request.getfixturevalue("postgres_server_url"))
        )
    database = Database(DatabaseConfig(url=url, pool_size=10))
    migrate.upgrade(database)
    yield database
    database.dispose()
    stack.close()


@pytest.fixture
def tenant() -> str:
    """Every test writes under a tenant of its own, so counts are exact on a shared database."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def resilience() -> Iterator[Resilience]:
    built = Resilience(
        ResilienceConfig.model_validate(
            {"default": {"backoff_initial_s": 0.001, "max_concurrent": 256, "max_wait_s": 10}}
        )
    )
    yield built
    built.close()


@pytest.fixture
def service(tickets_db: Database) -> EscalationService:
    return EscalationService(TicketStore(tickets_db), EscalationConfig())


@pytest.fixture
def escalate_tool(service: EscalationService, resilience: Resilience) -> BaseTool:
    return build_escalation_tool(service, resilience)


def ticket_count(database: Database, tenant: str) -> int:
    with database.transaction() as connection:
        table = TicketRow.__table__
        return connection.execute(
            select(func.count()).select_from(table).where(table.c.tenant_id == tenant)
        ).scalar_one()


def scoped(tenant: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"tenant_id": tenant, "user_id": "u-1", "thread_id": "t-1", **extra}}


def call(tool: BaseTool, args: dict[str, Any], config: dict[str, Any]) -> ToolMessage:
    message = tool.invoke(
        {"type": "tool_call", "id": "call-1", "name": tool.name, "args": args}, config=config
    )
    assert isinstance(message, ToolMessage)
    return message
