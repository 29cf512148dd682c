"""Engines and transaction scopes for the relational store (SQLite embedded, Postgres in production).

One ``Database`` owns a sync and an async engine on the same URL so that LangChain's paired
sync/async APIs share pool settings. Hot paths use Core statements on a connection from
``transaction()`` / ``atransaction()``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import QueuePool

from storage.config import DatabaseConfig

# Copy the WAL into the database file and empty it: after an erasure, deleted rows (zeroed in
# the file by secure_delete) must not survive in the WAL either.
WAL_TRUNCATE = "PRAGMA wal_checkpoint(TRUNCATE)"


def _urls(config: DatabaseConfig) -> tuple[URL, URL]:
    if not config.url:
        raise ValueError("database.url is empty; Settings fills it with the embedded default")
    url = make_url(config.url)
    if config.password is not None:
        url = url.set(password=config.password.get_secret_value())
    backend = url.get_backend_name()
    if backend in ("postgresql", "postgres"):
        sync = url.set(drivername="postgresql+psycopg")
        return sync, sync
    if backend == "sqlite":
        return url.set(drivername="sqlite"), url.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"database.url: unsupported backend {backend!r} (use postgresql or sqlite)")


class Database:
    """The relational store: engines, transaction scopes, pool statistics, shutdown.

    ``time_left`` (the resilience layer's ``deadline.remaining``) makes every Postgres
    statement's ``statement_timeout`` the time left in the calling operation's deadline,
    so a sync statement cannot outlive the deadline of the call that issued it.
    """

    def __init__(
        self, config: DatabaseConfig, *, time_left: Callable[[], float | None] | None = None
    ) -> None:
        self.config = config
        sync_url, async_url = _urls(config)
        self.backend = "sqlite" if sync_url.get_backend_name() == "sqlite" else "postgresql"
        # hide_parameters: statement errors otherwise quote bound values (customer text,
        # card numbers, keys) into exceptions, which reach logs and span events.
        if self.backend == "sqlite":
            if sync_url.database and sync_url.database != ":memory:":
                Path(sync_url.database).parent.mkdir(parents=True, exist_ok=True)
            options: dict[str, Any] = {
                "poolclass": QueuePool,
                "hide_parameters": True,
                "pool_size": config.pool_size,
                "max_overflow": config.max_overflow,
                "pool_timeout": config.pool_timeout_s,
                "connect_args": {"timeout": config.sqlite_busy_timeout_ms / 1000},
            }
        else:
            server_options = f"-c statement_timeout={config.statement_timeout_ms}"
            options = {
                "hide_parameters": True,
                "pool_size": config.pool_size,
                "max_overflow": config.max_overflow,
                "pool_timeout": config.pool_timeout_s,
                "pool_recycle": config.pool_recycle_s,
                "pool_pre_ping": config.pool_pre_ping,
                "connect_args": {
                    "connect_timeout": config.connect_timeout_s,
                    "application_name": config.application_name,
                    "options": server_options,
                },
            }
        self.engine: Engine = create_engine(sync_url, **options)
        async_options = dict(options)
        async_options.pop("poolclass", None)
        self.async_engine: AsyncEngine = create_async_engine(async_url, **async_options)
        self.autocommit_engine: Engine
        self.async_autocommit_engine: AsyncEngine
        if self.backend == "sqlite":
            self._tune_sqlite(self.engine)
            self._tune_sqlite(self.async_engine.sync_engine)
            # No network hop to save: the same pools, switched per checkout.
            self.autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
            self.async_autocommit_engine = self.async_engine.execution_options(
                isolation_level="AUTOCOMMIT"
            )
        else:
            # Pools of their own whose connections stay in autocommit: switching a pooled
            # connection there and back on every checkout cost ~25 µs of a ~0.6 ms remember.
            self.autocommit_engine = create_engine(
                sync_url, isolation_level="AUTOCOMMIT", **options
            )
            self.async_autocommit_engine = create_async_engine(
                async_url, isolation_level="AUTOCOMMIT", **async_options
            )
            if time_left is not None:
                for engine in self.engines:
                    _bound_statements(engine, config.statement_timeout_ms, time_left)

    @property
    def engines(self) -> list[Engine]:
        """Every engine with a pool of its own (sync views), e.g. to attach event listeners."""
        engines = [self.engine, self.async_engine.sync_engine]
        if self.backend == "postgresql":
            engines += [self.autocommit_engine, self.async_autocommit_engine.sync_engine]
        return engines

    def _tune_sqlite(self, engine: Engine) -> None:
        busy_ms = self.config.sqlite_busy_timeout_ms

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Customer data is erased on request: deleted rows must not linger in free pages.
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    @property
    def url(self) -> str:
        """The URL without its password, safe to log."""
        return self.engine.url.render_as_string(hide_password=True)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection inside a transaction: committed on exit, rolled back on error."""
        with self.engine.begin() as connection:
            yield connection

    @contextlib.asynccontextmanager
    async def atransaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.async_engine.begin() as connection:
            yield connection

    def autocommit(self) -> Connection:
        """A connection (use it in ``with``) on which each statement commits on its own, for
        plans whose every statement is atomic by itself: no BEGIN/COMMIT round trips."""
        return self.autocommit_engine.connect()

    def aautocommit(self) -> AsyncConnection:
        """The async counterpart of ``autocommit`` (use it in ``async with``)."""
        return self.async_autocommit_engine.connect()

    def truncate_wal(self) -> None:
        """SQLite: leave no copy of deleted rows in the WAL. Postgres: nothing to do."""
        if self.backend == "sqlite":
            with self.engine.connect() as connection:
                connection.exec_driver_sql(WAL_TRUNCATE)

    async def atruncate_wal(self) -> None:
        if self.backend == "sqlite":
            async with self.async_engine.connect() as connection:
                await connection.exec_driver_sql(WAL_TRUNCATE)

    def pool_status(self) -> dict[str, Any]:
        """Pool occupancy of every engine, for health checks."""
        status: dict[str, Any] = {
            "backend": self.backend,
            "sync": _pool_numbers(self.engine),
            "async": _pool_numbers(self.async_engine.sync_engine),
        }
        if self.backend == "postgresql":
            status["sync_autocommit"] = _pool_numbers(self.autocommit_engine)
            status["async_autocommit"] = _pool_numbers(self.async_autocommit_engine.sync_engine)
        return status

    def dispose(self) -> None:
        """Close the sync pools (``adispose`` closes the async ones, on their loop, too)."""
        self.engine.dispose()
        if self.backend == "postgresql":  # on SQLite it shares the pool just closed
            self.autocommit_engine.dispose()

    async def adispose(self) -> None:
        await self.async_engine.dispose()
        if self.backend == "postgresql":
            await self.async_autocommit_engine.dispose()
        self.dispose()


# statement_timeout is changed only when the value in force is this far from the wanted one
# (either way): a call's first statement, whose deadline is about the attempt timeout, then
# costs no extra round trip; a late retry, or a caller's tighter budget, does.
_SLACK = 0.8


def _bound_statements(
    engine: Engine, default_ms: int, time_left: Callable[[], float | None]
) -> None:
    """Before each statement, make ``statement_timeout`` the time left in the deadline (at
    most the configured value), or the configured value outside a deadline. The value in
    force is remembered per DBAPI connection, so the steady state costs nothing; a rollback
    may undo a SET made in its transaction, so it forgets the value."""
    key = "support_statement_timeout_ms"

    @event.listens_for(engine, "before_cursor_execute")
    def _before(conn: Connection, cursor: Any, *_args: Any) -> None:
        left = time_left()
        current = conn.info.get(key, default_ms)
        if left is None:
            wanted = default_ms
            if current == wanted:
                return
        else:
            left_ms = max(1, int(left * 1000))
            wanted = min(left_ms, default_ms) if default_ms else left_ms
            if current and wanted * _SLACK <= current <= wanted / _SLACK:
                return
        cursor.execute(f"SET statement_timeout = {int(wanted)}")
        conn.info[key] = wanted

    @event.listens_for(engine, "rollback")
    def _rolled_back(conn: Connection) -> None:
        conn.info.pop(key, None)


def _pool_numbers(engine: Engine) -> dict[str, int]:
    pool = engine.pool
    if not isinstance(pool, QueuePool):
        return {}
    return {
        "size": pool.size(),
        "checked_out": pool.checkedout(),
        "idle": pool.checkedin(),
        "overflow": max(pool.overflow(), 0),
    }
