"""Encryption at rest: customer text is sealed per tenant, readable only with the keys.

Every test runs on SQLite and Postgres through the stores' public API; a scan of every column
of every table (and the SQLite files) looks for the customer's words in the clear.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding
from pydantic import SecretStr
from sqlalchemy import select

from storage.config import MemoryConfig
from storage.engine import Database
from storage.memory import MemoryStore, Scope
from storage.memory.errors import MemoryStorageError
from storage.memory.tables import memories
from storage.sealing import PLAIN, Keyring, SealingError, TenantKey, destroy, tenant_keys
from storage.tickets.store import NewTicket, TicketStore
from tests.memory.test_erasure import places_holding

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


def keyring(*keys: str) -> Keyring:
    return Keyring(SecretStr(",".join(keys)))


def sealed_store(database: Database, *keys: str) -> MemoryStore:
    return MemoryStore(
        database, DeterministicFakeEmbedding(size=384), MemoryConfig(), keyring(*keys)
    )


def ticket(tenant_id: str, customer: str, summary: str) -> NewTicket:
    return NewTicket(
        tenant_id=tenant_id,
        customer_ref=customer,
        reason="human_requested",
        priority="normal",
        summary=summary,
        handoff={"summary": summary, "last_message": summary},
        sla_due_at=datetime.now(UTC) + timedelta(hours=4),
    )


def sqlite_files_holding(database: Database, needle: str) -> list[str]:
    if database.backend != "sqlite":
        return []
    path = Path(database.engine.url.database or "")
    return [p.name for p in path.parent.glob(path.name + "*") if needle.encode() in p.read_bytes()]


def test_no_customer_sentence_in_any_column_or_file(
    memory_database: Database, scope: Scope
) -> None:
    store = sealed_store(memory_database, KEY_A)
    tickets = TicketStore(memory_database, keyring(KEY_A))
    secret = f"ZQX{uuid.uuid4().hex[:10]}"
    sentences = [
        f"My code word is {secret} and I live at 12 Elm Street",
        f"Please only contact me by email about {secret}",
    ]
    for sentence in sentences:
        store.remember(scope, sentence, metadata={"said": sentence})
    store.remember(scope, f"Actually phone calls are fine now about {secret}")
    allergen = "zq" + "".join(chr(ord("a") + int(c, 16)) for c in uuid.uuid4().hex[:8])
    store.remember(scope, f"I'm allergic to {allergen}, please note that")
    created = tickets.create(ticket(scope.tenant_id, scope.user_id, sentences[0]))
    tickets.add_reply(scope.tenant_id, created.ticket.id, {"reply_key": "r1", "text": secret})

    assert places_holding(memory_database, secret) == []
    assert places_holding(memory_database, allergen) == [], "slot keys name no allergen"
    assert sqlite_files_holding(memory_database, secret) == []
    # ... while the authorised reader gets the plaintext back.
    exported = store.export(scope.tenant_id, scope.user_id)
    assert {m["content"] for m in exported["memories"]} >= set(sentences)
    assert exported["memories"][0]["metadata"] == {"said": sentences[0]}
    [best] = store.recall(scope, sentences[0], limit=1)
    assert best.memory.content == sentences[0]
    read = tickets.get(scope.tenant_id, created.ticket.id)
    assert read is not None
    assert (read.summary, read.handoff["last_message"]) == (sentences[0], sentences[0])
    details = [event["detail"] for event in tickets.events(scope.tenant_id, created.ticket.id)]
    assert {"reply_key": "r1", "text": secret} in details
    again = tickets.add_reply(scope.tenant_id, created.ticket.id, {"reply_key": "r1", "text": "x"})
    assert again is False, "a sealed reply still counts as recorded"


async def test_dedup_and_corrections_work_on_sealed_rows(
    memory_database: Database, scope: Scope
) -> None:
    store = sealed_store(memory_database, KEY_A)
    first = store.remember(scope, "Please only contact me by email, never by phone")
    same = store.remember(scope, "please only contact me by email, never by phone.")
    assert (same.deduped, same.dedup_tier, same.duplicate_of) == (True, "exact", first.memory.id)
    old = store.remember(scope, "My phone number is 503-555-0100")
    new = store.remember(scope, "My phone number is 503-555-0147")
    assert [m.id for m in new.superseded] == [old.memory.id]
    assert [m.content for m in new.superseded] == ["My phone number is 503-555-0100"]
    forgotten = await store.aforget_matching(scope, lambda text: "phone number" in text)
    assert [m.id for m in forgotten] == [new.memory.id]


def test_purge_with_encryption_on_removes_every_row(
    memory_database: Database, scope: Scope
) -> None:
    store = sealed_store(memory_database, KEY_A)
    store.remember(scope, "I'm allergic to latex")
    store.remember(Scope(scope.tenant_id, "user-2"), "My T-shirt size is M")
    counts = store.purge(scope.tenant_id, scope.user_id)
    assert counts["memories"] == 1
    assert store.export(scope.tenant_id, scope.user_id)["memories"] == []
    assert len(store.export(scope.tenant_id, "user-2")["memories"]) == 1


def test_rotation_keeps_old_data_readable_and_wraps_new_keys_with_the_new_key(
    memory_database: Database, scope: Scope
) -> None:
    old_tenant = scope
    new_tenant = Scope(f"t-{uuid.uuid4().hex[:12]}", "user-1")
    sealed_store(memory_database, KEY_A).remember(old_tenant, "My T-shirt size is M")

    rotated = sealed_store(memory_database, KEY_B, KEY_A)
    assert rotated.export(old_tenant.tenant_id, "user-1")["memories"][0]["content"] == (
        "My T-shirt size is M"
    )
    rotated.remember(new_tenant, "My shoe size is 42")
    wrapped = wrapped_keys(memory_database)
    Fernet(KEY_B).decrypt(wrapped[new_tenant.tenant_id])
    with pytest.raises(InvalidToken):
        Fernet(KEY_A).decrypt(wrapped[new_tenant.tenant_id])

    with memory_database.transaction() as connection:
        assert rotated.keyring.rewrap(connection) >= 2
    retired = sealed_store(memory_database, KEY_B)  # the old key-encryption key is gone
    assert [hit.memory.content for hit in retired.recall(old_tenant, "T-shirt size")] == [
        "My T-shirt size is M"
    ]


def test_a_wrong_key_is_a_clear_error_that_reveals_nothing(
    memory_database: Database, scope: Scope
) -> None:
    sealed_store(memory_database, KEY_A).remember(scope, "My code word is swordfish")
    wrong = sealed_store(memory_database, KEY_B)
    with pytest.raises(MemoryStorageError) as raised:
        wrong.recall(scope, "code word")
    error = raised.value
    assert (error.code, error.retryable) == ("storage_error", False)
    assert "encryption.keys" in error.message
    assert "swordfish" not in error.message
    assert KEY_A not in error.message
    assert KEY_B not in error.message
    with pytest.raises(SealingError, match=r"encryption\.keys"):
        Keyring(SecretStr("not-a-fernet-key"))


def test_destroying_a_tenant_key_erases_that_tenant_only(
    memory_database: Database, scope: Scope
) -> None:
    other = Scope(f"t-{uuid.uuid4().hex[:12]}", "user-1")
    store = sealed_store(memory_database, KEY_A)
    tickets = TicketStore(memory_database, keyring(KEY_A))
    for tenant in (scope, other):
        store.remember(tenant, "I live at 12 Elm Street")
    mine = tickets.create(ticket(scope.tenant_id, scope.user_id, "lamp broke, 12 Elm Street"))
    theirs = tickets.create(ticket(other.tenant_id, other.user_id, "lamp broke, 12 Elm Street"))

    with memory_database.transaction() as connection:
        assert destroy(connection, scope.tenant_id) is True

    assert store.recall(scope, "where do I live") == []
    assert store.export(scope.tenant_id, scope.user_id)["memories"] == []
    erased = tickets.get(scope.tenant_id, mine.ticket.id)
    assert erased is not None
    assert (erased.summary, erased.handoff) == ("", {})
    assert [hit.memory.content for hit in store.recall(other, "where do I live")] == [
        "I live at 12 Elm Street"
    ]
    kept = tickets.get(other.tenant_id, theirs.ticket.id)
    assert kept is not None
    assert kept.summary == "lamp broke, 12 Elm Street"
    # The tenant can start again under a new key; the old rows stay unreadable.
    fresh = store.remember(scope, "I live at 12 Elm Street")
    assert fresh.deduped is False
    assert [hit.memory.id for hit in store.recall(scope, "where do I live")] == [fresh.memory.id]


def test_dedup_hashes_are_keyed_per_tenant(memory_database: Database, scope: Scope) -> None:
    other = Scope(f"t-{uuid.uuid4().hex[:12]}", "user-1")
    store = sealed_store(memory_database, KEY_A)
    for tenant in (scope, other):
        store.remember(tenant, "My T-shirt size is M")
    with memory_database.transaction() as connection:
        rows = connection.execute(
            select(memories.c.tenant_id, memories.c.content_hash, memories.c.simhash).where(
                memories.c.tenant_id.in_([scope.tenant_id, other.tenant_id])
            )
        ).all()
    hashes = {row.tenant_id: (row.content_hash, row.simhash) for row in rows}
    assert hashes[scope.tenant_id][0] != hashes[other.tenant_id][0]
    assert hashes[scope.tenant_id][1] != hashes[other.tenant_id][1]
    assert PLAIN.digest("my t-shirt size is m") not in {h for h, _ in hashes.values()}


def wrapped_keys(database: Database) -> dict[str, bytes]:
    with database.transaction() as connection:
        rows = connection.execute(select(tenant_keys.c.tenant_id, tenant_keys.c.wrapped)).all()
    return {tenant_id: bytes(wrapped) for tenant_id, wrapped in rows}


def fresh_key() -> TenantKey:
    return TenantKey(key_id=os.urandom(8), secret=os.urandom(64))


@settings(max_examples=200, deadline=None)
@given(text=st.text(), blob=st.binary(max_size=2048))
def test_sealed_values_open_to_what_was_sealed_and_only_under_their_key(
    text: str, blob: bytes
) -> None:
    key, other = fresh_key(), fresh_key()
    assert key.open_text(key.seal_text(text)) == text
    assert key.open(key.seal(blob)) == blob
    assert key.open_json(key.seal_json({"t": text})) == {"t": text}
    assert other.open_text(key.seal_text(text)) is None, "another key reads it as erased"
    assert key.digest(text) != other.digest(text)
    assert key.token(text) != other.token(text)
    assert "secret" not in repr(key)
    assert key.secret.hex() not in repr(key)
    if len(text) >= 8:
        assert text not in key.seal_text(text)
    tampered = bytearray(key.seal(blob))
    tampered[-1] ^= 1
    with pytest.raises(SealingError):
        key.open(bytes(tampered))
