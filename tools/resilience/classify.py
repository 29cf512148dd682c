"""Turn any exception from a dependency into a ``ToolError`` with an honest ``retryable``.

Only transient causes are retryable: timeouts, dropped connections, overloaded servers
(HTTP 429/5xx), database connection loss. Messages name the exception type, never its
text, which may carry a query, a URL with credentials or a customer's data.
"""

from __future__ import annotations

import httpx
import psycopg
import redis
import sqlalchemy.exc

from storage.memory.errors import InvalidMemoryInputError
from tools.errors import DependencyError, DependencyTimeoutError, InvalidInputError, ToolError

TRANSIENT: tuple[type[BaseException], ...] = (
    ConnectionError,
    redis.ConnectionError,
    redis.TimeoutError,
    redis.BusyLoadingError,
    httpx.TransportError,
    psycopg.OperationalError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.TimeoutError,
    sqlalchemy.exc.DisconnectionError,
)


# What a database refuses because of the value it was given (too long for its column, not
# encodable, a broken constraint): the caller's error, never a sign the dependency is down.
REFUSED_VALUES: tuple[type[BaseException], ...] = (
    psycopg.DataError,
    psycopg.IntegrityError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    UnicodeError,
    InvalidMemoryInputError,
)


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return status == 429 or status >= 500
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return bool(exc.connection_invalidated)
    return False


def to_tool_error(exc: BaseException, dependency: str) -> ToolError:
    if isinstance(exc, ToolError):
        if exc.dependency is None:
            exc.dependency = dependency
        return exc
    if isinstance(exc, TimeoutError):
        return DependencyTimeoutError(f"{dependency} did not answer in time", dependency=dependency)
    if isinstance(exc, REFUSED_VALUES):
        return InvalidInputError(
            f"{dependency} refused the value ({type(exc).__name__})", dependency=dependency
        )
    return DependencyError(
        f"{dependency} failed ({type(exc).__name__})",
        retryable=is_transient(exc),
        dependency=dependency,
    )
