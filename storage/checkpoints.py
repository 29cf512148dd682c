"""LangGraph checkpointers on the configured database, for callers that build the graph.

SQLite keeps checkpoints in their own file beside the embedded database (one writer per
file); Postgres gets a connection pool sized like the application's. ``langgraph dev`` and
the LangGraph server bring their own checkpointer and never use these.

Each checkpoint's metadata gets the conversation's owner: the graph records the caller it
resolved in the ``owner`` channel of its state, and these savers copy it into the metadata
they write (``OwnerStamp``). Erasure then finds every thread of a customer by metadata,
whether the caller named the customer in the run context, ``configurable`` or ``metadata``.

With ``encryption.keys`` set the callers' ``Keyring`` makes these savers seal what they
write (``storage.checkpoint_sealing``); without keys they serialize as LangGraph does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

import aiosqlite
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.encrypted import EncryptedSerializer
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from sqlalchemy import make_url

from storage.checkpoint_sealing import asealing_serializer, strings_as_blobs
from storage.config import DatabaseConfig
from storage.sealing import Keyring

CHECKPOINT_FILE = "checkpoints.db"


def postgres_conninfo(config: DatabaseConfig) -> str:
    """The libpq URL of the configured database (the password comes from the secret)."""
    url = make_url(config.url or "").set(drivername="postgresql")
    if config.password is not None:
        url = url.set(password=config.password.get_secret_value())
    return url.render_as_string(hide_password=False)


def _is_sqlite(config: DatabaseConfig) -> bool:
    return make_url(config.url or "").get_backend_name() == "sqlite"


def _pool_options(config: DatabaseConfig) -> dict[str, Any]:
    from psycopg.rows import dict_row

    return {
        "min_size": 1,
        "max_size": config.pool_size + config.max_overflow,
        "timeout": config.pool_timeout_s,
        "kwargs": {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    }


OWNER_CHANNEL = "owner"


def with_owner(checkpoint: Checkpoint, metadata: CheckpointMetadata) -> CheckpointMetadata:
    """``metadata`` with the owner recorded in the checkpoint's state, if there is one."""
    owner = checkpoint.get("channel_values", {}).get(OWNER_CHANNEL)
    if isinstance(owner, Mapping) and owner.get("tenant_id") and owner.get("user_id"):
        return {**metadata, "tenant_id": owner["tenant_id"], "user_id": owner["user_id"]}  # type: ignore[typeddict-unknown-key]
    return metadata


class OwnerStamp:
    """Mixed into a saver: every checkpoint it writes carries its conversation's owner."""

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        stamped = with_owner(checkpoint, metadata)
        return await super().aput(config, checkpoint, stamped, new_versions)  # type: ignore[misc]


class SealedStrings:
    """Mixed into the Postgres saver: with a sealing serializer, string channel values go
    through it too (the saver would keep them in its JSONB column in the clear)."""

    serde: Any

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        if isinstance(self.serde, EncryptedSerializer):
            checkpoint, new_versions = strings_as_blobs(checkpoint, new_versions)
        return await super().aput(config, checkpoint, metadata, new_versions)  # type: ignore[misc]


class OwnedAsyncSqliteSaver(OwnerStamp, AsyncSqliteSaver):
    """``AsyncSqliteSaver`` that stamps owners (it serializes whole checkpoints)."""


class OwnedAsyncPostgresSaver(OwnerStamp, SealedStrings, AsyncPostgresSaver):
    """``AsyncPostgresSaver`` that stamps owners and seals string channels when sealing."""


@contextlib.asynccontextmanager
async def aopen_checkpointer(
    config: DatabaseConfig, data_dir: Path, keyring: Keyring
) -> AsyncIterator[BaseCheckpointSaver]:
    """The async checkpointer (for ``ainvoke`` / ``astream``), tables created, closed on exit;
    sealing with ``keyring``'s checkpoint data key when encryption is on."""
    serde = await asealing_serializer(config, keyring)
    if _is_sqlite(config):
        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        async with aiosqlite.connect(str(data_dir / CHECKPOINT_FILE)) as connection:
            saver = OwnedAsyncSqliteSaver(connection, serde=serde)
            await saver.setup()
            yield saver
        return
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(postgres_conninfo(config), open=False, **_pool_options(config))
    await pool.open()
    try:
        saver = OwnedAsyncPostgresSaver(pool, serde=serde)  # type: ignore[arg-type]
        await saver.setup()
        yield saver
    finally:
        await pool.close()


async def athreads_of(saver: BaseCheckpointSaver, tenant_id: str, user_id: str) -> list[str]:
    """The ids of every thread whose checkpoints carry this (tenant, user) in their metadata.

    The owner is there because these savers stamp it (``OwnerStamp``), and because LangGraph
    copies ``tenant_id`` / ``user_id`` from a run's ``metadata`` or ``configurable`` too.
    """
    owner = {"tenant_id": tenant_id, "user_id": user_id}
    threads = {
        checkpoint.config["configurable"]["thread_id"]
        async for checkpoint in saver.alist(None, filter=owner)
    }
    return sorted(threads)


async def athread_messages(saver: BaseCheckpointSaver, thread_id: str) -> list[Any]:
    """The messages of a thread's latest checkpoint."""
    latest = await saver.aget_tuple({"configurable": {"thread_id": thread_id}})
    if latest is None:
        return []
    return list(latest.checkpoint.get("channel_values", {}).get("messages") or [])


async def adelete_threads_of(saver: BaseCheckpointSaver, tenant_id: str, user_id: str) -> int:
    """Delete every thread of (tenant, user) (``athreads_of``); returns how many."""
    threads = await athreads_of(saver, tenant_id, user_id)
    for thread_id in threads:
        await saver.adelete_thread(thread_id)
    return len(threads)
