"""One implementation of each operation for both the sync and the async API.

An operation is written once as a generator ("plan") that yields ``Step``s (a Core statement
and how to read its result) and receives the results; ``run`` and ``arun`` drive it on a sync
or an async connection. The decision logic therefore exists once, and the async path really
awaits the async engine instead of wrapping the sync one in a thread.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, CursorResult, Executable
from sqlalchemy.ext.asyncio import AsyncConnection

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Step:
    """A statement, its parameters (a list means executemany) and how to read the result.

    Hot-path statements are built once with bind parameters and reused, so SQLAlchemy's
    compiled cache is hit and only the parameters change per call.
    """

    statement: Executable
    read: Literal["all", "one", "scalar", "rowcount"] = "all"
    parameters: dict[str, Any] | list[dict[str, Any]] | None = None

    def consume(self, result: CursorResult[Any]) -> Any:
        if self.read == "all":
            return result.all()
        if self.read == "one":
            return result.one_or_none()
        if self.read == "scalar":
            return result.scalar()
        return result.rowcount


Plan = Generator[Step, Any, T]


def run(connection: Connection, plan: Plan[T]) -> T:
    result: Any = None
    while True:
        try:
            step = plan.send(result)
        except StopIteration as done:
            return done.value
        cursor = connection.execute(step.statement, step.parameters)
        result = step.consume(cursor)


async def arun(connection: AsyncConnection, plan: Plan[T]) -> T:
    result: Any = None
    while True:
        try:
            step = plan.send(result)
        except StopIteration as done:
            return done.value
        cursor = await connection.execute(step.statement, step.parameters)
        result = step.consume(cursor)
