"""Conversation checkpoints sealed at rest: LangGraph's ``EncryptedSerializer`` over its
default ``JsonPlusSerializer``, with a cipher built on ``storage.sealing``.

A checkpoint holds every message of a conversation, so with ``encryption.keys`` set it is
sealed like the rest of the customer's text. LangGraph's ``CipherProtocol`` sees bytes only,
not whose conversation they are, so checkpoints have one data key of their own rather than
one per tenant: a row of ``tenant_keys`` under ``CHECKPOINT_KEY``, whose ``#`` no tenant id
may contain (``storage.ids``), created on first use and wrapped by the key-encryption key like
every tenant's, so ``support-agent encryption rewrap`` rotates it too. A customer's
conversations are erased by deleting their threads (``storage.checkpoints``), not by
destroying a key. The key is read when a checkpointer opens and kept while it is open.

Checkpoint metadata stays JSON in the clear, because erasure finds a customer's threads by
filtering on it; it holds ids (the owner, run and step), never message text (the installed
LangGraph no longer copies a step's ``writes`` into it).

The Postgres saver stores str/int/float/bool channel values inside its ``checkpoint`` JSONB
column, where no serializer sees them, and the graph's ``query`` channel is the customer's
sentence; ``strings_as_blobs`` sends string values to the blob table instead, through the
serializer. Values written before encryption was turned on carry no cipher name and are read
as they are (``EncryptedSerializer`` passes them to the inner serializer).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import ChannelVersions, Checkpoint
from langgraph.checkpoint.serde.base import SerializerProtocol
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from storage.config import DatabaseConfig
from storage.engine import Database
from storage.migrate import ensure_schema
from storage.sealing import Keyring, SealingError, TenantKey

CHECKPOINT_KEY = "#checkpoints"
CIPHER_NAME = "sealed1"


class SealingCipher:
    """LangGraph's ``CipherProtocol`` on a data key: AES-256-GCM with the key id in the
    authenticated header (``TenantKey.seal``)."""

    def __init__(self, key: TenantKey) -> None:
        self._key = key

    def encrypt(self, plaintext: bytes) -> tuple[str, bytes]:
        return CIPHER_NAME, self._key.seal(plaintext)

    def decrypt(self, ciphername: str, ciphertext: bytes) -> bytes:
        if ciphername != CIPHER_NAME:
            raise SealingError(f"a checkpoint is sealed with an unknown cipher ({ciphername!r})")
        opened = self._key.open(ciphertext)
        if opened is None:
            raise SealingError(
                "a checkpoint is sealed under a data key that no longer exists (destroyed?)"
            )
        return opened


@dataclass(frozen=True, slots=True)
class BlobText:
    """A string channel value the Postgres saver must store as a blob (sealed)."""

    text: str


class _BlobTextSerializer(JsonPlusSerializer):
    """``JsonPlusSerializer`` that writes a ``BlobText`` as its string, so it reads back as
    a plain ``str``."""

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        return super().dumps_typed(obj.text if isinstance(obj, BlobText) else obj)


def sealing_serializer(key: TenantKey) -> EncryptedSerializer:
    return EncryptedSerializer(SealingCipher(key), _BlobTextSerializer())


def strings_as_blobs(
    checkpoint: Checkpoint, new_versions: ChannelVersions
) -> tuple[Checkpoint, ChannelVersions]:
    """``checkpoint`` with its string channel values boxed (``BlobText``), and their current
    versions among those to write: a value first written in the clear before encryption
    was turned on gets its sealed blob too (the blob insert ignores one already there)."""
    values = checkpoint["channel_values"]
    versions = checkpoint["channel_versions"]
    strings = [k for k, v in values.items() if isinstance(v, str) and k in versions]
    if not strings:
        return checkpoint, new_versions
    boxed = {**values, **{k: BlobText(values[k]) for k in strings}}
    return (
        {**checkpoint, "channel_values": boxed},
        {**{k: versions[k] for k in strings}, **new_versions},
    )


async def asealing_serializer(
    config: DatabaseConfig, keyring: Keyring
) -> SerializerProtocol | None:
    """The sealing serializer with the checkpoint data key (created on first use), or
    ``None`` without encryption (the savers' default serializer, as before)."""
    if not keyring.enabled:
        return None
    database = Database(config)
    try:
        await asyncio.to_thread(ensure_schema, database)  # the key lives in tenant_keys
        async with database.atransaction() as connection:
            key = await keyring.akey_for(connection, CHECKPOINT_KEY, time.time())
    finally:
        await database.adispose()
    return sealing_serializer(key)
