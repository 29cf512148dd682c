"""One implementation of each operation for both the sync and the async API.

An operation is written once as a generator ("plan") that yields ``Step``s (a Core statement
and how to read its result) and receives the results; ``run`` and ``arun`` drive it on a sync
or an async connection. The decision logic therefore exists once, and the async path really
awaits the async engine instead of wrapping the sync one in a thread.
"""

from __future__ import annotations

import functools
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, CursorResult, Dialect, Executable
from sqlalchemy.engine import Compiled
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Step:
    """A statement, its parameters (a list means executemany) and how to read the result.

    Hot-path statements are built once with bind parameters and reused, so SQLAlchemy's
    compiled cache is hit and only the parameters change per call. ``precompiled`` goes one
    step further for the largest ones: even a cache hit costs a traversal of the statement
    to compute its cache key (~0.25 ms for remember's Postgres write, measured against the
    same SQL sent with ``exec_driver_sql``), so those are compiled once per dialect and sent
    as SQL text with the same parameters, through the same connection, error wrapping and
    disconnect handling. Only for statements without expanding (IN list) parameters.
    """

    statement: Executable
    read: Literal["all", "one", "scalar", "rowcount"] = "all"
    parameters: dict[str, Any] | list[dict[str, Any]] | None = None
    precompiled: bool = False

    def consume(self, result: CursorResult[Any]) -> Any:
        if self.read == "all":
            return result.all()
        if self.read == "one":
            return result.one_or_none()
        if self.read == "scalar":
            return result.scalar()
        return result.rowcount


Plan = Generator[Step, Any, T]


@functools.lru_cache(maxsize=64)
def _compiled(statement: Executable, dialect: Dialect) -> Compiled:
    return statement.compile(dialect=dialect)  # type: ignore[attr-defined, no-any-return]


def _as_text(step: Step, dialect: Dialect) -> tuple[str, dict[str, Any], dict[str, Any]]:
    compiled = _compiled(step.statement, dialect)
    assert isinstance(step.parameters, dict)
    return (
        compiled.string,
        compiled.construct_params(step.parameters),
        dict(step.statement.get_execution_options()),
    )


def run(connection: Connection, plan: Plan[T]) -> T:
    result: Any = None
    while True:
        try:
            step = plan.send(result)
        except StopIteration as done:
            return done.value
        if step.precompiled:
            sql, parameters, options = _as_text(step, connection.dialect)
            cursor = connection.exec_driver_sql(sql, parameters, execution_options=options)
        else:
            cursor = connection.execute(step.statement, step.parameters)
        result = step.consume(cursor)


async def arun(connection: AsyncConnection, plan: Plan[T]) -> T:
    result: Any = None
    while True:
        try:
            step = plan.send(result)
        except StopIteration as done:
            return done.value
        if step.precompiled:
            sql, parameters, options = _as_text(step, connection.dialect)
            cursor = await connection.exec_driver_sql(sql, parameters, execution_options=options)
        else:
            cursor = await connection.execute(step.statement, step.parameters)
        result = step.consume(cursor)
