"""CHECK-constraint conditions shared by the tables, so the schema states what the code assumes."""

from __future__ import annotations


def one_of(column: str, values: tuple[str, ...]) -> str:
    """The column holds one of ``values`` (constants of the code, never user input)."""
    return f"{column} IN (" + ", ".join(f"'{value}'" for value in values) + ")"
