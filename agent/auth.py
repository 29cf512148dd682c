"""Authentication and authorization for the LangGraph server (``langgraph.json`` → ``auth``).

Who: every request presents an API key or a JWT (``Authorization: Bearer …`` or
``X-Api-Key``), verified by ``agent.credentials``; anything else is a 401. The user the
server hands to the graph carries ``tenant_id``, ``user_id`` and ``role``, and the graph's
identity resolver (``tools.runtime``) takes the caller from it, never from the run context.

What each role may do:
- ``customer``: only their own threads, runs and crons (stamped ``owner`` on create, filtered
  by it on every read, search, stream, resume, state/history call and delete); store items
  only under their own ``(tenant_id, user_id)`` namespace prefix (rewritten to it).
- ``agent`` (support staff) and ``admin``: every thread, run and cron of their own tenant
  (stamped and filtered by ``tenant_id``), e.g. to answer a hand-off, and store items under
  ``(tenant_id,)``; never another tenant's.
- Assistants (graph configurations) are created, changed and deleted by ``admin`` only, within
  their tenant; everyone may read them.
A run whose context claims another tenant, user or role is refused with 403.

LangGraph Studio under ``langgraph dev`` connects as the server's ``StudioUser`` and may do
everything, as LangGraph documents: it is a developer on their own machine. Deployed servers
authenticate Studio through LangSmith instead (``LANGGRAPH_AUTH_TYPE``).
"""

from __future__ import annotations

import functools
from typing import Any

from langgraph_sdk import Auth

from agent.credentials import InvalidCredentials, Principal, Verifier
from agent.settings import load_settings

auth = Auth()

_CLAIMS = ("tenant_id", "user_id", "role")
_OWNER_KEYS = ("owner", "tenant_id", "user_id")


@functools.cache
def _verifier() -> Verifier:
    """Built on the first request, from the settings the server was started with."""
    return Verifier.from_config(load_settings().auth)


@auth.authenticate
async def authenticate(authorization: str | None, headers: dict[bytes, bytes]) -> dict[str, Any]:
    credential = _bearer(authorization) or headers.get(b"x-api-key", b"").decode() or None
    try:
        principal = _verifier().verify(credential)
    except InvalidCredentials as exc:
        raise Auth.exceptions.HTTPException(status_code=401, detail=str(exc)) from None
    return {
        "identity": principal.identity,
        "tenant_id": principal.tenant_id,
        "user_id": principal.user_id,
        "role": principal.role,
        "permissions": [principal.role],
    }


def _bearer(authorization: str | None) -> str | None:
    scheme, _, token = (authorization or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _principal(ctx: Auth.types.AuthContext) -> Principal | None:
    """The caller, or None for Studio on ``langgraph dev`` (which may do everything)."""
    if isinstance(ctx.user, Auth.types.StudioUser):
        return None
    return Principal(
        tenant_id=ctx.user["tenant_id"], user_id=ctx.user["user_id"], role=ctx.user["role"]
    )


def _stamp_and_filter(
    ctx: Auth.types.AuthContext, principal: Principal, value: dict[str, Any]
) -> dict[str, str]:
    """Stamp the owner on what is being created; the filter every access must match.

    An update never changes ownership: the owner keys are dropped from it, so staff who
    touch a customer's thread leave it the customer's. Edits are in place: the server keeps
    a reference to the dict it passed in.
    """
    metadata = value.get("metadata")
    if ctx.action in ("create", "create_run"):
        if metadata is None:
            metadata = value["metadata"] = {}
        metadata.update(
            owner=principal.identity, tenant_id=principal.tenant_id, user_id=principal.user_id
        )
    elif ctx.action == "update" and isinstance(metadata, dict):
        for key in _OWNER_KEYS:
            metadata.pop(key, None)
    if principal.role == "customer":
        return {"owner": principal.identity}
    return {"tenant_id": principal.tenant_id}


@auth.on.threads
async def on_threads(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str] | None:
    principal = _principal(ctx)
    if principal is None:
        return None
    if ctx.action == "create_run":
        _refuse_other_identity(principal, value.get("kwargs") or {})
    return _stamp_and_filter(ctx, principal, value)


@auth.on.crons
async def on_crons(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str] | None:
    principal = _principal(ctx)
    return None if principal is None else _stamp_and_filter(ctx, principal, value)


@auth.on.assistants
async def on_assistants(
    ctx: Auth.types.AuthContext, value: dict[str, Any]
) -> dict[str, str] | bool | None:
    principal = _principal(ctx)
    if principal is None or ctx.action in ("read", "search"):
        return None
    if principal.role != "admin":
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="only an admin may change assistants"
        )
    return _stamp_and_filter(ctx, principal, value)


@auth.on.store()
async def on_store(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    principal = _principal(ctx)
    if principal is None:
        return
    own = (principal.tenant_id, principal.user_id)
    prefix = own if principal.role == "customer" else own[:1]
    namespace = tuple(value.get("namespace") or ())
    if namespace[: len(prefix)] != prefix:
        value["namespace"] = (*prefix, *namespace)


def _refuse_other_identity(principal: Principal, kwargs: dict[str, Any]) -> None:
    """403 for a run whose context or configurable names someone else."""
    configurable = (kwargs.get("config") or {}).get("configurable") or {}
    for source in (kwargs.get("context") or {}, configurable):
        for claim in _CLAIMS:
            claimed = source.get(claim) if isinstance(source, dict) else None
            if claimed not in (None, "", getattr(principal, claim)):
                raise Auth.exceptions.HTTPException(
                    status_code=403,
                    detail=f"the run names a {claim} other than your credentials'; leave it out",
                )
