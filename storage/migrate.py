"""Apply the Alembic migrations with the application's own engine.

The Alembic configuration is built in code (no alembic.ini to ship or to find), and the open
connection is handed to ``migrations/env.py`` so that pool, timeouts and credentials are the
ones the settings produced.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from filelock import FileLock

from storage.engine import Database

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
log = logging.getLogger(__name__)


class SchemaNotReadyError(RuntimeError):
    """The database is behind the code and migrations are not applied automatically here."""


def _config(database: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade(database: Database, revision: str = "head") -> None:
    """Migrate forward to ``revision`` in one transaction."""
    config = _config(database)
    with database.transaction() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(database: Database, revision: str) -> None:
    """Migrate back to ``revision`` ("base" removes every table)."""
    config = _config(database)
    with database.transaction() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revisions(database: Database) -> set[str]:
    with database.transaction() as connection:
        return set(MigrationContext.configure(connection).get_current_heads())


def head_revisions() -> set[str]:
    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def _migration_lock(database: Database) -> contextlib.AbstractContextManager[object]:
    path = database.engine.url.database
    if not path or path == ":memory:":
        return contextlib.nullcontext()
    return FileLock(f"{path}.migrate.lock")


def ensure_schema(database: Database) -> None:
    """Bring the schema to head at start-up for embedded SQLite; check it everywhere else.

    Production Postgres is migrated by an operator (``support-agent migrate``) so that several
    workers starting at once never race a DDL transaction.
    """
    if current_revisions(database) == head_revisions():
        return
    if database.backend == "sqlite" and database.config.auto_migrate:
        # Several processes starting at once on a new data dir would each see no schema and
        # race to create it (SQLite runs DDL outside the transaction): one migrates under
        # a lock file, the others wait and then find the schema at head.
        with _migration_lock(database):
            if current_revisions(database) != head_revisions():
                log.info("applying migrations to the embedded SQLite database")
                upgrade(database)
        return
    raise SchemaNotReadyError(
        f"database schema is not at the code's revision {sorted(head_revisions())}; "
        "run `support-agent migrate`"
    )
