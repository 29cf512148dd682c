"""Who is calling: the one identity resolver for tools and graph nodes.

A model can be talked into writing any ``user_id`` into a tool call, and an API client can
write any ``user_id`` into a run's context, so neither decides who the caller is:

1. **The authenticated user wins.** Under the LangGraph server with our auth
   (``agent/auth.py``), the user the server authenticated reaches the run as
   ``config["configurable"]["langgraph_auth_user"]`` (nodes also see it as
   ``runtime.server_info.user``). Its ``tenant_id``, ``user_id`` and ``role`` are the
   caller's. A tenant or user that the client claims in the context or ``configurable`` and
   that differs is refused (``IdentityMismatchError``), never used.
2. **Otherwise the caller's code decides**: a Python program building the graph, a developer's
   own agent, or LangGraph Studio on ``langgraph dev`` (its ``StudioUser`` is a developer
   trying the graph, not a customer). Identity is read, first hit wins, from the LangGraph
   runtime context, then ``config["configurable"]``, then ``default_tenant`` for the tenant.

There is no default customer: a run without a user has ``user_id=None``; what needs one
(memories, a customer's orders) is refused or skipped. Every id follows ``storage.ids``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import get_runtime
from langgraph_sdk.auth.types import StudioUser

from storage.ids import InvalidIdError, validate_id
from tools.errors import CallerError
from tools.resilience import call_scope

Role = Literal["customer", "agent", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)
AUTH_USER_KEY = "langgraph_auth_user"
_SESSION_KEYS = ("session_id", "thread_id")


class MissingScopeError(CallerError):
    """The runtime did not say who is calling; a deployment error, not the model's."""

    default_code = "missing_scope"


class IdentityMismatchError(CallerError):
    """The client claimed a tenant or user other than the one it authenticated as."""

    default_code = "identity_mismatch"


@dataclass(frozen=True)
class CallerScope:
    tenant_id: str
    user_id: str | None = None
    session_id: str | None = None
    role: Role = "customer"

    @property
    def is_staff(self) -> bool:
        """Support staff (``agent``) and ``admin`` may look up any customer of their tenant."""
        return self.role != "customer"

    def require_user(self) -> str:
        if self.user_id is None:
            raise MissingScopeError(
                "no customer in the runtime: this needs an authenticated user, or user_id in "
                "the LangGraph context or config['configurable']"
            )
        return self.user_id


def _lookup(source: Any, name: str) -> Any:
    if source is None:
        return None
    value = source.get(name) if isinstance(source, Mapping) else getattr(source, name, None)
    return None if value == "" else value


def _first(sources: Sequence[Any], *names: str) -> Any:
    for source in sources:
        for name in names:
            value = _lookup(source, name)
            if value is not None:
                return value
    return None


def _id(field: str, value: Any) -> str | None:
    if value is None:
        return None
    try:
        return validate_id(field, value if isinstance(value, str) else str(value))
    except InvalidIdError as exc:
        raise MissingScopeError(f"runtime {exc}") from None


def _role(value: Any) -> Role:
    if value is None:
        return "customer"
    if value not in ROLES:
        raise MissingScopeError(f"runtime role must be one of {', '.join(ROLES)}")
    return value


def _authenticated(user: Any) -> Any:
    """The server-authenticated user, or None (no auth, or Studio on ``langgraph dev``)."""
    if user is None or isinstance(user, StudioUser) or _lookup(user, "kind") == "StudioUser":
        return None
    return user


def resolve(
    *,
    user: Any,
    claims: Sequence[Any],
    session_id: Any = None,
    default_tenant: str | None = None,
    default_role: Role = "customer",
) -> CallerScope:
    """The caller's scope from an authenticated ``user`` (or None) and client ``claims``.

    ``claims`` are the places a client or the caller's code can write identity into (the
    run context, ``configurable``), first hit wins.
    """
    if session_id is None:
        session_id = _first(claims, *_SESSION_KEYS)
    session = _id("session_id", session_id)
    authenticated = _authenticated(user)
    if authenticated is None:
        tenant = _id("tenant_id", _first(claims, "tenant_id") or default_tenant)
        if tenant is None:
            raise MissingScopeError(
                "no tenant in the runtime: pass tenant_id in the LangGraph context "
                "or in config['configurable']"
            )
        return CallerScope(
            tenant_id=tenant,
            user_id=_id("user_id", _first(claims, "user_id")),
            session_id=session,
            role=_role(_first(claims, "role") or default_role),
        )
    scope = CallerScope(
        tenant_id=_id("tenant_id", _lookup(authenticated, "tenant_id")) or "",
        user_id=_id("user_id", _lookup(authenticated, "user_id")),
        session_id=session,
        role=_role(_lookup(authenticated, "role")),
    )
    if not scope.tenant_id:
        raise MissingScopeError("the authenticated user has no tenant_id")
    for field in ("tenant_id", "user_id", "role"):
        claimed = _first(claims, field)
        if claimed is not None and claimed != getattr(scope, field):
            raise IdentityMismatchError(
                f"the run names a {field} other than the authenticated caller's; "
                f"leave {field} out (it comes from your credentials)"
            )
    return scope


def _graph_context() -> Any:
    """The LangGraph run context when called inside a graph run, else None."""
    try:
        return get_runtime().context
    except (RuntimeError, AttributeError):  # outside a runnable / outside a graph run
        return None


def _configurable(config: RunnableConfig | None) -> Mapping[str, Any]:
    return (config or {}).get("configurable") or {}


def caller_scope(
    config: RunnableConfig | None,
    *,
    default_tenant: str | None = None,
    default_role: Role = "customer",
) -> CallerScope:
    """The scope of a tool call; raises ``MissingScopeError`` / ``IdentityMismatchError``.

    ``default_role`` applies when neither an authenticated user nor the caller's code names
    one: ``agent`` for a pack built into a staff-facing assistant.
    """
    configurable = _configurable(config)
    return resolve(
        user=configurable.get(AUTH_USER_KEY),
        claims=(_graph_context(), configurable),
        default_tenant=default_tenant,
        default_role=default_role,
    )


@contextlib.contextmanager
def acting_as(
    config: RunnableConfig | None,
    *,
    default_tenant: str | None = None,
    default_role: Role = "customer",
) -> Iterator[CallerScope]:
    """Resolve the caller and attribute every guarded call inside to them (rate limits)."""
    scope = caller_scope(config, default_tenant=default_tenant, default_role=default_role)
    with call_scope(scope.tenant_id, scope.user_id, scope.session_id):
        yield scope


@contextlib.contextmanager
def acting_as_if_known(
    config: RunnableConfig | None, *, default_tenant: str | None = None
) -> Iterator[CallerScope | None]:
    """``acting_as`` for tools that need no identity (shared data): a caller the runtime does
    not name at all runs unattributed; a malformed or contradicted identity is still refused."""
    named = default_tenant or _first(
        (_graph_context(), _configurable(config)), "tenant_id", AUTH_USER_KEY
    )
    if named is None:
        yield None
        return
    with acting_as(config, default_tenant=default_tenant) as scope:
        yield scope


def runtime_value(config: RunnableConfig | None, name: str) -> Any:
    """A value the runtime passed beside the scope (context first, then configurable)."""
    return _first((_graph_context(), _configurable(config)), name)


def precomputed_embedding(config: RunnableConfig | None, text: str) -> list[float] | None:
    """The vector the graph already computed for ``text`` this turn, if any.

    The graph embeds the user's message once and puts ``{"text": ..., "vector": [...]}``
    under ``turn_embedding`` in ``configurable``; a tool whose query is that same text
    reuses it instead of embedding again.
    """
    turn = runtime_value(config, "turn_embedding")
    if turn is not None and _lookup(turn, "text") == text:
        vector = _lookup(turn, "vector")
        if vector is not None:
            return [float(x) for x in vector]
    return None
