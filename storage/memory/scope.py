"""Who a memory belongs to. Every store method takes a ``Scope``; none works without one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, ValidationError

from storage import ids
from storage.ids import ID_RULE, Identifier
from storage.memory.errors import InvalidMemoryInputError


def validate_id(field: str, value: object) -> str:
    """Check one id (export and purge take bare ids rather than a scope)."""
    try:
        return ids.validate_id(field, value)
    except ids.InvalidIdError:
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
