"""The one id rule (``storage.ids``) against the real schema, on SQLite and PostgreSQL.

Every column that stores a tenant, user or session id is at least as wide as the rule allows,
and every id the rule accepts is stored whole by every store that keeps ids (PostgreSQL
enforces ``VARCHAR`` widths, so a too-narrow column would fail there); every id it refuses is
refused before any I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding
from sqlalchemy import inspect, text

from storage import migrate
from storage.access_log import AccessLog
from storage.config import DatabaseConfig, MemoryConfig
from storage.engine import Database
from storage.ids import ID_PATTERN, MAX_ID_CHARS, InvalidIdError, validate_id
from storage.memory import MemoryStore, Scope
from storage.memory.errors import InvalidMemoryInputError
from storage.tickets.store import TicketStore
from tools.config import EscalationConfig
from tools.escalation.service import EscalationService

ID_COLUMNS = {"tenant_id", "user_id", "session_id", "actor_id", "subject_id", "customer_id"}
EXAMPLES = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    migrated = Database(DatabaseConfig(url=database_url))
    migrate.upgrade(migrated)
    yield migrated
    migrated.dispose()


def test_every_id_column_holds_the_longest_id(database: Database) -> None:
    with database.transaction() as connection:
        schema = inspect(connection)
        widths = {
            (table, column["name"]): getattr(column["type"], "length", None)
            for table in schema.get_table_names()
            for column in schema.get_columns(table)
            if column["name"] in ID_COLUMNS
        }
    assert len({table for table, _ in widths}) >= 5
    narrow = {key: width for key, width in widths.items() if width and width < MAX_ID_CHARS}
    assert narrow == {}


@EXAMPLES
@given(value=st.text(max_size=100))
def test_the_rule_accepts_exactly_its_pattern(value: str) -> None:
    if re.fullmatch(ID_PATTERN, value) is not None:
        assert validate_id("tenant_id", value) == value
    else:
        with pytest.raises(InvalidIdError, match=r"^tenant_id must be 1-64 characters"):
            validate_id("tenant_id", value)


@EXAMPLES
@given(ident=st.from_regex(ID_PATTERN, fullmatch=True), long=st.just("i" * MAX_ID_CHARS))
def test_every_accepted_id_is_stored_whole(database: Database, ident: str, long: str) -> None:
    memory = MemoryStore(database, DeterministicFakeEmbedding(size=384), MemoryConfig())
    tickets = EscalationService(TicketStore(database), EscalationConfig())
    access = AccessLog(database)
    for value in (ident, long):
        user = f"{value[: MAX_ID_CHARS - 9]}-{uuid.uuid4().hex[:8]}"
        stored = memory.remember(Scope(value, user, value), "Prefers email")
        assert stored.memory.user_id == user
        ticket = tickets.escalate(
            tenant_id=value, customer_ref=user, reason="other", summary="Call me back."
        ).ticket
        assert (ticket.tenant_id, ticket.customer_ref) == (value, user)
        access.record(
            tenant_id=value,
            actor_id=user,
            actor_role="customer",
            subject_id=user,
            action="recall",
            outcome="found",
        )
        with database.transaction() as connection:
            logged = connection.execute(
                text("SELECT count(*) FROM access_log WHERE tenant_id = :t AND subject_id = :u"),
                {"t": value, "u": user},
            ).scalar_one()
        assert logged == 1


@EXAMPLES
@given(value=st.text(min_size=MAX_ID_CHARS + 1, max_size=120) | st.just("a\ud800b"))
def test_a_refused_id_never_reaches_the_database(database: Database, value: str) -> None:
    memory = MemoryStore(database, DeterministicFakeEmbedding(size=384), MemoryConfig())
    with pytest.raises(InvalidMemoryInputError):
        memory.remember(Scope(value, "u1"), "Prefers email")
