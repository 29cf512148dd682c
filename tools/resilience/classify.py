"""Turn any exception from a dependency into a ``ToolError`` with an honest ``retryable``.

Only transient causes are retryable: timeouts, dropped or refused connections, overloaded
servers (HTTP 429/5xx, with their ``Retry-After``), database connection loss, and any error
of our own layers that says it is (``retryable`` attribute, e.g. ``MemoryStorageError``),
so a conversion never turns a retryable failure into a final one. Messages name the
exception type and status, never its text, which may carry a query, a URL with
credentials or a customer's data.

The ``openai`` client's errors are classified precisely: a 429 or 5xx, or a connection
refused or reset before any response byte, is retryable; a client-side timeout is a
``timeout`` (the server may still be generating: the ``llm`` policy does not re-send it
unless ``retry_on_codes`` asks to); any other status (400, 401, 404, 422) is final.
"""

from __future__ import annotations

import sys
import time
from email.utils import parsedate_to_datetime
from typing import Any

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
# The longest Retry-After honoured; a server asking for more is treated as down for now.
MAX_RETRY_AFTER_S = 60.0


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def retry_after(headers: httpx.Headers | Any) -> float | None:
    """Seconds from ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms``."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    value = headers.get("retry-after")
    try:
        if millis is not None:
            seconds = float(millis) / 1000
        elif value is None:
            return None
        elif value.strip().replace(".", "", 1).isdigit():
            seconds = float(value)
        else:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, OverflowError):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _openai_error(exc: BaseException, dependency: str) -> ToolError | None:
    """The ToolError for an ``openai`` client error, or None for anything else.

    Read from ``sys.modules``: when nobody imported ``openai`` (no chat model configured)
    no exception can come from it, and importing it here would slow every start-up.
    """
    openai = sys.modules.get("openai")
    if openai is None or not isinstance(exc, openai.APIError):
        return None
    if isinstance(exc, openai.APITimeoutError):
        return DependencyTimeoutError(f"{dependency} did not answer in time", dependency=dependency)
    if isinstance(exc, openai.APIConnectionError):
        return DependencyError(
            f"{dependency} could not be reached ({type(exc).__name__})",
            retryable=True,
            dependency=dependency,
        )
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return DependencyError(
            f"{dependency} answered HTTP {status}",
            retryable=retryable_status(status),
            retry_after_s=retry_after(exc.response.headers),
            dependency=dependency,
        )
    return DependencyError(
        f"{dependency} returned a response the client could not read ({type(exc).__name__})",
        retryable=False,
        dependency=dependency,
    )


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TRANSIENT):
        return True
    if isinstance(exc, httpx.HTTPStatusError):
        return retryable_status(exc.response.status_code)
    if isinstance(exc, sqlalchemy.exc.DBAPIError):
        return bool(exc.connection_invalidated)
    return getattr(exc, "retryable", None) is True


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
    error = _openai_error(exc, dependency)
    if error is not None:
        return error
    wait = retry_after(exc.response.headers) if isinstance(exc, httpx.HTTPStatusError) else None
    return DependencyError(
        f"{dependency} failed ({type(exc).__name__})",
        retryable=is_transient(exc),
        retry_after_s=wait,
        dependency=dependency,
    )
