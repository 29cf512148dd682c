"""The one rule for tenant, user and session ids, in every layer and on every backend.

An id is 1-64 characters of ``A-Z a-z 0-9 _ . : @ % + = -``. 64 is the narrowest column that
stores one (``tenant_id`` in the CRM and ticket tables), so an id that passes here fits every
column on PostgreSQL and SQLite alike: a too-long id is the caller's error, reported before
any I/O, never a database failure that counts against a circuit breaker. Ids are compared by
equality only (never ``LIKE``), so ``%`` and ``_`` are ordinary characters; anything built
from several ids (a rate-limit key, a cache key) encodes each part (``key``), so ``:`` inside
an id cannot make two scopes share a key.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from pydantic import StringConstraints, TypeAdapter, ValidationError

MAX_ID_CHARS = 64
ID_PATTERN = rf"^[A-Za-z0-9_.:@%+=-]{{1,{MAX_ID_CHARS}}}$"
ID_RULE = f"must be 1-{MAX_ID_CHARS} characters of A-Z a-z 0-9 _ . : @ % + = -"

Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
"""The id rule as a Pydantic field type."""

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


class InvalidIdError(ValueError):
    """An id that breaks the rule; the message names the field, never the value."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field} {ID_RULE}")
        self.field = field


def validate_id(field: str, value: object) -> str:
    """``value`` if it follows the id rule, else ``InvalidIdError`` naming ``field``."""
    try:
        return _IDENTIFIER.validate_python(value)
    except ValidationError:
        raise InvalidIdError(field) from None


def key(*parts: str) -> str:
    """An unambiguous key from several parts: each is percent-encoded, then joined by ``:``."""
    return ":".join(quote(part, safe="") for part in parts)
