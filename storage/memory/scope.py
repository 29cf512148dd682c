"""Who a memory belongs to. Every store method takes a ``Scope``; none works without one."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from storage.memory.errors import InvalidMemoryInputError

# Ids are matched by equality only (never LIKE), so "%" and "_" are ordinary characters here.
ID_PATTERN = r"^[A-Za-z0-9_.:@%+=-]{1,128}$"
ID_RULE = "must be 1-128 characters of A-Z a-z 0-9 _ . : @ % + = -"
Identifier = Annotated[str, Field(pattern=ID_PATTERN)]
_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def validate_id(field: str, value: object) -> str:
    """Check one id (export and purge take bare ids rather than a scope)."""
    try:
        return _IDENTIFIER.validate_python(value)
    except ValidationError:
        raise InvalidMemoryInputError(field, ID_RULE) from None


class Scope(BaseModel):
    """(tenant, user) and an optional session, validated once at construction."""

    model_config = ConfigDict(frozen=True)

    tenant_id: Identifier
    user_id: Identifier
    session_id: Identifier | None = None

    def __init__(self, tenant_id: str, user_id: str, session_id: str | None = None) -> None:
        try:
            super().__init__(tenant_id=tenant_id, user_id=user_id, session_id=session_id)
        except ValidationError as exc:
            field = str(exc.errors(include_input=False, include_url=False)[0]["loc"][0])
            raise InvalidMemoryInputError(field, ID_RULE) from None
