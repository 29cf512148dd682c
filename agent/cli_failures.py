"""Every known way a command fails, as one line on stderr and a distinct exit code.

An operator (or a script) must tell "run the migrations" from "the database is down" from
"the output folder does not exist" without reading a traceback. (An unreachable Redis is no
failure: every command falls back to in-process state and says so in one warning.) The exception chain is
searched, because the same cause arrives wrapped differently depending on the layer that
met it first (SQLAlchemy, the memory store, the services start-up).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from alembic.util.exc import CommandError
from sqlalchemy.exc import DBAPIError, OperationalError

from agent.redaction import redact_text
from storage.memory import MemoryStoreError
from storage.migrate import SchemaNotReadyError
from storage.sealing import SealingError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SCHEMA = 3
EXIT_DATABASE = 4
EXIT_REVISION = 6
EXIT_OUTPUT = 7
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `... | head`


@dataclass(frozen=True)
class Failure:
    code: int
    message: str


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def classify(exc: BaseException) -> Failure | None:
    """The one-line failure for a known cause; None for a bug (let it show its traceback)."""
    chain = list(_chain(exc))
    for error in chain:
        if isinstance(error, KeyboardInterrupt):
            return Failure(EXIT_INTERRUPTED, "interrupted")
        if isinstance(error, BrokenPipeError):
            return Failure(EXIT_BROKEN_PIPE, "output closed early (broken pipe)")
        if isinstance(error, SchemaNotReadyError):
            return Failure(EXIT_SCHEMA, str(error))
        if isinstance(error, CommandError):
            return Failure(EXIT_REVISION, f"bad revision: {error}")
        if isinstance(error, OperationalError | DBAPIError) and _is_connection(error):
            return Failure(EXIT_DATABASE, f"database unreachable: {_first_line(error.orig)}")
    for error in chain:
        if isinstance(error, MemoryStoreError | SealingError):
            return Failure(EXIT_FAILED, error.message)
    return None


def output_failure(exc: OSError, path: object) -> Failure:
    return Failure(EXIT_OUTPUT, f"cannot write {path}: {exc.strerror or exc}")


def _is_connection(error: DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    return any(
        hint in text
        for hint in (
            "connection refused",
            "could not connect",
            "connection failed",
            "timeout expired",
            "could not translate host",
            "unable to open database file",
            "server closed the connection",
            "no route to host",
        )
    )


def _first_line(error: object) -> str:
    lines = str(error).strip().splitlines()
    return redact_text(lines[0] if lines else type(error).__name__)
