"""LangGraph checkpointers on the configured database, for callers that build the graph.

SQLite keeps checkpoints in their own file beside the embedded database (one writer per
file); Postgres gets a connection pool sized like the application's. ``langgraph dev`` and
the LangGraph server bring their own checkpointer and never use these.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from sqlalchemy import make_url

from storage.config import DatabaseConfig

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


@contextlib.contextmanager
def open_checkpointer(config: DatabaseConfig, data_dir: Path) -> Iterator[BaseCheckpointSaver]:
    """The sync checkpointer (for ``invoke`` / ``stream``), tables created, closed on exit."""
    if _is_sqlite(config):
        from langgraph.checkpoint.sqlite import SqliteSaver

        data_dir.mkdir(parents=True, exist_ok=True)
        with SqliteSaver.from_conn_string(str(data_dir / CHECKPOINT_FILE)) as saver:
            saver.setup()
            yield saver
        return
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg_pool import ConnectionPool

    with ConnectionPool(postgres_conninfo(config), **_pool_options(config)) as pool:
        saver = PostgresSaver(pool)  # type: ignore[arg-type]
        saver.setup()
        yield saver


@contextlib.asynccontextmanager
async def aopen_checkpointer(
    config: DatabaseConfig, data_dir: Path
) -> AsyncIterator[BaseCheckpointSaver]:
    """The async checkpointer (for ``ainvoke`` / ``astream``), tables created, closed on exit."""
    if _is_sqlite(config):
        from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

        await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
        async with AsyncSqliteSaver.from_conn_string(str(data_dir / CHECKPOINT_FILE)) as saver:
            await saver.setup()
            yield saver
        return
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg_pool import AsyncConnectionPool

    pool = AsyncConnectionPool(postgres_conninfo(config), open=False, **_pool_options(config))
    await pool.open()
    try:
        saver = AsyncPostgresSaver(pool)  # type: ignore[arg-type]
        await saver.setup()
        yield saver
    finally:
        await pool.close()


async def adelete_threads_of(saver: BaseCheckpointSaver, tenant_id: str, user_id: str) -> int:
    """Delete every thread whose checkpoints carry this (tenant, user) in their metadata.

    Runs put ``tenant_id`` / ``user_id`` in ``config["metadata"]`` (or ``configurable``),
    which LangGraph copies into each checkpoint's metadata; that is what makes a customer's
    conversations findable for erasure.
    """
    owner = {"tenant_id": tenant_id, "user_id": user_id}
    threads = {
        checkpoint.config["configurable"]["thread_id"]
        async for checkpoint in saver.alist(None, filter=owner)
    }
    for thread_id in threads:
        await saver.adelete_thread(thread_id)
    return len(threads)
