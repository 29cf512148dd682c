"""Conversation checkpoints sealed at rest, through the real entry point
(``graphs.support.aopen_checkpointer`` + ``build_graph`` + ``ainvoke``).

With keys, a scan of every column of every table and of the SQLite files (the checkpoint
file included) finds no trace of the customer's sentence, while the thread still reads back
with it from a freshly opened checkpointer, so the test cannot pass by storing nothing.
Without keys checkpoints are stored as before; checkpoints written before the keys were set
stay readable; a wrong or destroyed key is a ``SealingError`` that names the setting and
shows no key material; ``rewrap`` rotates the checkpoint key with the tenants' keys.
"""

from __future__ import annotations

import traceback
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr
from sqlalchemy import delete

from agent.cli_failures import EXIT_FAILED, Failure, classify
from agent.services import Services
from agent.settings import Settings, load_settings
from graphs.support import aopen_checkpointer, build_graph
from storage import migrate
from storage.checkpoint_sealing import CHECKPOINT_KEY
from storage.checkpoints import CHECKPOINT_FILE
from storage.config import DatabaseConfig
from storage.engine import Database
from storage.ids import InvalidIdError
from storage.sealing import Keyring, SealingError, destroy, tenant_keys
from tests.memory.test_encryption import sqlite_files_holding
from tests.memory.test_erasure import places_holding

from .conftest import turn

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
USER = "lucia_romero_5150"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> dict[str, str]:
    """The ``database`` settings of each backend; Postgres gets a migrated database of the
    test's own, so no other test's checkpoint key is found there."""
    if request.param == "sqlite":
        return {}
    url = request.getfixturevalue("own_postgres_url")
    migrating = Database(DatabaseConfig(url=url))
    try:
        migrate.upgrade(migrating)
    finally:
        migrating.dispose()
    return {"url": url}


def _settings(tmp_path: Path, database: dict[str, str], *keys: str) -> Settings:
    values: dict[str, Any] = {"environment": "test", "data_dir": tmp_path / "data"}
    if database:
        values["database"] = database
    if keys:
        values["encryption"] = {"keys": ",".join(keys)}
    return load_settings(**values)


def _sentence() -> tuple[str, str]:
    token = f"ZQX{uuid.uuid4().hex[:10]}"
    return token, f"Please remember that my gate code is {token}. Do you ship to Canada?"


def _checkpoint_places(settings: Settings, services: Services, needle: str) -> list[str]:
    """Checkpoint tables holding ``needle``: on Postgres in the application's database, on
    SQLite in the checkpoint file beside it (its columns and its files, WAL included)."""
    if services.database.backend == "postgresql":
        found = places_holding(services.database, needle)
        return [place for place in found if place.startswith("checkpoint")]
    url = f"sqlite:///{settings.data_dir / CHECKPOINT_FILE}"
    checkpoints = Database(DatabaseConfig(url=url))
    try:
        return places_holding(checkpoints, needle) + sqlite_files_holding(checkpoints, needle)
    finally:
        checkpoints.dispose()


def _everywhere(settings: Settings, services: Services, needle: str) -> list[str]:
    """Every column of every table and every SQLite file holding ``needle``."""
    found = places_holding(services.database, needle)
    found += sqlite_files_holding(services.database, needle)
    if services.database.backend == "sqlite":
        found += _checkpoint_places(settings, services, needle)
    return found


async def _talk(settings: Settings, thread: str, token: str, said: str) -> list[str]:
    """One turn through the real entry point; returns where ``token`` is stored while the
    checkpointer is still open (the SQLite WAL is not yet folded in)."""
    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        await turn(graph, said, user=USER, thread=thread)
        return _everywhere(settings, services, token)


async def _read_back(settings: Settings, thread: str) -> dict[str, Any]:
    """The thread's state through a freshly opened checkpointer."""
    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        snapshot = await graph.aget_state({"configurable": {"thread_id": thread}})
        return dict(snapshot.values)


async def _last_input_state(settings: Settings, thread: str) -> dict[str, Any]:
    """The state saved as the latest run started: channels the run had not yet rewritten."""
    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        graph = build_graph(services=services, checkpointer=saver)
        async for snapshot in graph.aget_state_history({"configurable": {"thread_id": thread}}):
            if snapshot.metadata and snapshot.metadata.get("source") == "input":
                return dict(snapshot.values)
    raise AssertionError("no checkpoint of a run's input")


async def test_with_keys_no_customer_sentence_is_stored_in_the_clear(
    tmp_path: Path, database: dict[str, str]
) -> None:
    settings = _settings(tmp_path, database, KEY_A)
    token, said = _sentence()
    thread = f"t-{uuid.uuid4().hex[:8]}"

    assert await _talk(settings, thread, token, said) == []

    state = await _read_back(settings, thread)
    assert state["messages"][0].text == said
    assert state["messages"][-1].type == "ai"
    assert token in state["query"]  # a string channel: Postgres would keep it in JSONB
    assert state["owner"] == {"tenant_id": settings.tenant_id, "user_id": USER}


async def test_without_keys_checkpoints_are_stored_as_before(
    tmp_path: Path, database: dict[str, str]
) -> None:
    settings = _settings(tmp_path, database)
    token, said = _sentence()
    thread = f"t-{uuid.uuid4().hex[:8]}"

    await _talk(settings, thread, token, said)

    async with await Services.open(settings) as services:
        assert _checkpoint_places(settings, services, token), "stored in the clear, as before"
    state = await _read_back(settings, thread)
    assert state["messages"][0].text == said
    assert token in state["query"]


async def test_checkpoints_written_before_the_keys_stay_readable(
    tmp_path: Path, database: dict[str, str]
) -> None:
    plain, sealed = _settings(tmp_path, database), _settings(tmp_path, database, KEY_A)
    old_token, old = _sentence()
    new_token, new = _sentence()
    thread = f"t-{uuid.uuid4().hex[:8]}"
    await _talk(plain, thread, old_token, old)

    before = await _read_back(sealed, thread)
    assert before["messages"][0].text == old
    assert old_token in before["query"]

    assert await _talk(sealed, thread, new_token, new) == []
    # The new run's first checkpoint still holds the old turn's string channels (sealed now).
    assert old_token in (await _last_input_state(sealed, thread))["query"]
    after = await _read_back(sealed, thread)
    said = [message.text for message in after["messages"] if message.type == "human"]
    assert said == [old, new]
    assert new_token in after["query"]


async def _one_sealed_thread(settings: Settings) -> tuple[str, str]:
    token, said = _sentence()
    thread = f"t-{uuid.uuid4().hex[:8]}"
    assert await _talk(settings, thread, token, said) == []
    return token, thread


async def test_a_wrong_key_is_a_clear_error_that_reveals_nothing(tmp_path: Path) -> None:
    token, _ = await _one_sealed_thread(_settings(tmp_path, {}, KEY_A))

    with pytest.raises(SealingError) as raised:
        async with aopen_checkpointer(_settings(tmp_path, {}, KEY_B)):
            pass

    error = raised.value
    assert (error.code, error.retryable) == ("encryption_error", False)
    assert "encryption.keys" in error.message
    shown = "".join(traceback.format_exception(error))
    for secret in (KEY_A, KEY_B, token):
        assert secret not in shown
    assert classify(error) == Failure(EXIT_FAILED, error.message)


async def test_a_destroyed_checkpoint_key_reads_as_a_clear_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {}, KEY_A)
    token, thread = await _one_sealed_thread(settings)
    database = Database(settings.database)
    try:
        with database.transaction() as connection:
            with pytest.raises(InvalidIdError):
                destroy(connection, CHECKPOINT_KEY)  # destroy-tenant never reaches it
            deleted = connection.execute(
                delete(tenant_keys).where(tenant_keys.c.tenant_id == CHECKPOINT_KEY)
            )
            assert deleted.rowcount == 1
    finally:
        database.dispose()

    with pytest.raises(SealingError, match="no longer exists") as raised:
        await _read_back(settings, thread)
    assert token not in "".join(traceback.format_exception(raised.value))


async def test_rewrap_moves_the_checkpoint_key_to_the_new_key(tmp_path: Path) -> None:
    settings = _settings(tmp_path, {}, KEY_A)
    token, thread = await _one_sealed_thread(settings)
    database = Database(settings.database)
    try:
        with database.transaction() as connection:
            assert Keyring(SecretStr(f"{KEY_B},{KEY_A}")).rewrap(connection) >= 1
    finally:
        database.dispose()

    state = await _read_back(_settings(tmp_path, {}, KEY_B), thread)  # KEY_A is retired
    assert token in state["messages"][0].text
