"""Export and erasure: after a purge, a customer's words remain in no table, file or checkpoint.

A real conversation (memories, an escalation ticket with its handoff packet, checkpoints)
is played through the graph for two customers; one is purged and a sentinel string from
their messages is searched for everywhere it could survive.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from agent.conversation import Conversation
from agent.customer_data import aexport_customer, apurge_customer
from agent.services import Services
from agent.settings import Settings, load_settings
from graphs.support import aopen_checkpointer, build_graph
from storage import migrate
from storage.engine import Database


def _messages(sentinel: str) -> list[str]:
    return [
        f"Please only contact me by email, my code word is {sentinel}.",
        f"This is ridiculous!! My {sentinel} lamp broke after two days. I want a human NOW.",
    ]


async def _converse(services: Services, saver: Any, user: str, sentinel: str) -> None:
    graph = build_graph(services=services, checkpointer=saver)
    chat = Conversation(graph, user_id=user, tenant_id=services.settings.tenant_id)
    first, angry = _messages(sentinel)
    await chat.say(first)
    paused = await chat.say(angry)
    assert paused.interrupt is not None, "the angry message must escalate"
    await chat.resume({"reply": "Dana here: a replacement ships today.", "agent": "Dana"})


def _postgres_hits(services: Services, sentinel: str) -> list[str]:
    """Every text, JSON and binary column of every table that contains the sentinel."""
    hits = []
    with services.database.transaction() as connection:
        columns = connection.execute(
            text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type IN "
                "('text', 'character varying', 'json', 'jsonb', 'bytea')"
            )
        ).all()
        for table, column, data_type in columns:
            probe = (
                f"position(convert_to(:s, 'UTF8') in \"{column}\") > 0"
                if data_type == "bytea"
                else f"\"{column}\"::text LIKE '%%' || :s || '%%'"
            )
            found = connection.execute(
                text(f'SELECT count(*) FROM "{table}" WHERE {probe}'), {"s": sentinel}
            ).scalar_one()
            if found:
                hits.append(f"{table}.{column}")
    return hits


def _file_hits(data_dir: Path, sentinel: str) -> list[str]:
    needle = sentinel.encode()
    return [str(p) for p in data_dir.rglob("*") if p.is_file() and needle in p.read_bytes()]


def _conversation_text(exported: dict[str, Any]) -> str:
    return json.dumps(exported["conversations"])


async def _purge_leaves_nothing(settings: Settings) -> None:
    """With encryption on the words are in no column or file even before the purge; export
    (which opens the sealed checkpoints) shows they were stored, and purge still finds the
    customer's threads by their metadata."""
    sealed = settings.encryption.keys is not None
    kept_user, purged_user = f"keep_{uuid.uuid4().hex[:8]}", f"gone_{uuid.uuid4().hex[:8]}"
    kept, purged = f"KEPT{uuid.uuid4().hex[:10]}", f"ZQX{uuid.uuid4().hex[:10]}"
    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        await _converse(services, saver, kept_user, kept)
        await _converse(services, saver, purged_user, purged)
        backend = services.database.backend

        def hits(sentinel: str) -> list[str]:
            if backend == "sqlite":
                return _file_hits(settings.data_dir, sentinel)
            return _postgres_hits(services, sentinel)

        if sealed:
            assert hits(purged) == [], "sealed: the customer's words are nowhere in the clear"
        else:
            assert hits(purged), "the sentinel must be stored somewhere before the purge"

        exported = await aexport_customer(services, settings.tenant_id, purged_user)
        assert any(purged in memory["content"] for memory in exported["memories"])
        [ticket] = exported["tickets"]
        assert purged in ticket["summary"]
        assert ticket["customer_ref"] == purged_user
        assert len(exported["conversations"]) == 1
        assert purged in _conversation_text(exported)

        counts = await apurge_customer(services, settings.tenant_id, purged_user)

        assert counts[backend]["memories"] >= 1
        assert counts[backend]["tickets"] == 1
        assert counts["checkpoints"]["threads"] == 1
        assert hits(purged) == []
        if sealed:
            other = await aexport_customer(services, settings.tenant_id, kept_user)
            assert kept in _conversation_text(other), "another customer's data must stay"
            assert hits(kept) == []
        else:
            assert hits(kept), "another customer's data must stay"
        again = await apurge_customer(services, settings.tenant_id, purged_user)
        assert again[backend]["memories"] == 0
        assert again[backend]["tickets"] == 0
        assert again["checkpoints"]["threads"] == 0
        after = await aexport_customer(services, settings.tenant_id, purged_user)
        assert (after["memories"], after["tickets"]) == ([], [])


async def test_purge_on_embedded_sqlite_leaves_no_byte_of_the_customer(tmp_path: Path) -> None:
    await _purge_leaves_nothing(load_settings(environment="test", data_dir=tmp_path / "data"))


@pytest.mark.postgres
async def test_purge_on_postgres_leaves_the_customer_in_no_column(
    tmp_path: Path, own_postgres_url: str
) -> None:
    settings = load_settings(
        environment="test", data_dir=tmp_path / "pg", database={"url": own_postgres_url}
    )
    database = Database(settings.database)
    migrate.upgrade(database)
    database.dispose()
    await _purge_leaves_nothing(settings)


async def test_export_and_purge_with_encryption_at_rest(tmp_path: Path) -> None:
    """Sealed memories, tickets and checkpoints: export still gives the customer's words
    back, purge still removes every trace (the scan also reads the sealed tables)."""
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "data",
        encryption={"keys": Fernet.generate_key().decode()},
    )
    await _purge_leaves_nothing(settings)


@pytest.mark.postgres
async def test_export_and_purge_with_encryption_at_rest_on_postgres(
    tmp_path: Path, own_postgres_url: str
) -> None:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "pg",
        database={"url": own_postgres_url},
        encryption={"keys": Fernet.generate_key().decode()},
    )
    database = Database(settings.database)
    migrate.upgrade(database)
    database.dispose()
    await _purge_leaves_nothing(settings)
