"""``remember`` / ``recall`` / ``forget``: long-term memory tools over ``storage.memory``.

The owner of every memory is the caller the runtime names (``tools.runtime``); the model
only supplies the text. A duplicate is not an error: ``remember`` answers with the id and
text already stored. A changed fact is not a second fact: ``remember`` replaces the older
memories it corrects (found by the store's rules, or named by the model in ``replaces``)
and says which, so the model can confirm the new value to the customer.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

import orjson
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from storage.memory import (
    EmbeddingFailedError,
    InvalidMemoryInputError,
    MemoryStorageError,
    MemoryStore,
    MemoryStoreError,
    Scope,
)
from storage.memory.models import RecalledMemory, RememberResult
from tools.audit import read_entries
from tools.errors import (
    DependencyError,
    InvalidInputError,
    NotFoundError,
    ToolError,
    tool_error_handler,
    validation_error_handler,
)
from tools.inputs import ContentText, QueryText
from tools.runtime import CallerScope, acting_as, precomputed_embedding

if TYPE_CHECKING:
    from storage.access_log import AccessLog
    from tools.resilience import Resilience

DEPENDENCY = "memory"
# The memory types a model may write and filter on (storage/memory_types.py; not "session").
ContentType = Literal["fact", "preference", "identifier", "issue", "episode"]
MEMORY_ID = r"^[0-9a-f]{32}$"
P = ParamSpec("P")
T = TypeVar("T")


class RememberInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: ContentText = Field(
        description=(
            "One durable fact about the customer, written as a short standalone sentence "
            "(e.g. 'Prefers email over phone calls'). No passwords or card numbers."
        )
    )
    content_type: ContentType = Field(
        default="fact",
        description="fact: stable information; preference: how they like to be treated; "
        "identifier: an order number, e-mail or phone (kept 1 year); issue: a problem they "
        "reported (kept 90 days); episode: something that happened (kept 30 days).",
    )
    importance: float = Field(
        default=0.5, ge=0, le=1, description="0 (trivia) to 1 (must never be forgotten)."
    )
    replaces: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="memory_ids (from recall) of older memories this one corrects, e.g. the "
        "old address when the customer gives a new one. Usually unnecessary: corrections of "
        "contact preference, phone, e-mail, address, name, sizes, payment, allergies, "
        "delivery instructions, language and subscriptions are detected automatically. "
        "Issues, episodes and session notes are never replaced.",
    )

    @field_validator("replaces")
    @classmethod
    def _memory_ids(cls, value: list[str]) -> list[str]:
        for memory_id in value:
            if not re.fullmatch(MEMORY_ID, memory_id):
                raise ValueError("each entry must be a memory_id that recall returned")
        return value


class RecallInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: QueryText = Field(description="What you want to know about this customer.")
    content_types: list[ContentType] | None = Field(
        default=None, max_length=3, description="Only these kinds of memory (default: all)."
    )
    limit: int = Field(default=5, ge=1, le=20, description="Most memories to return.")


class ForgetInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    memory_id: str = Field(
        pattern=MEMORY_ID,
        description="The memory_id that remember or recall returned.",
    )


def _tool_error(exc: MemoryStoreError) -> ToolError:
    if isinstance(exc, InvalidMemoryInputError):
        return InvalidInputError(exc.message)
    if isinstance(exc, MemoryStorageError | EmbeddingFailedError):
        return DependencyError(exc.message, retryable=exc.retryable, dependency=DEPENDENCY)
    return ToolError(exc.message, code=exc.code, retryable=exc.retryable, dependency=DEPENDENCY)


def _mapped(func: Callable[P, T]) -> Callable[P, T]:
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return func(*args, **kwargs)
        except MemoryStoreError as exc:
            raise _tool_error(exc) from exc

    return wrapper


def _amapped(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except MemoryStoreError as exc:
            raise _tool_error(exc) from exc

    return wrapper


def _json(payload: dict[str, Any]) -> str:
    return orjson.dumps(payload).decode()


def _remembered(result: RememberResult) -> str:
    memory = result.memory
    if result.deduped:
        return _json(
            {
                "status": "duplicate",
                "memory_id": memory.id,
                "existing_content": memory.content,
                "dedup_tier": result.dedup_tier,
                "hint": "Already remembered; nothing changed.",
            }
        )
    if not result.superseded:
        return _json({"status": "stored", "memory_id": memory.id})
    return _json(
        {
            "status": "corrected",
            "memory_id": memory.id,
            "replaced": [
                {"memory_id": old.id, "content": old.content} for old in result.superseded
            ],
            "hint": "The replaced memories are no longer current. Confirm the new value to "
            "the customer.",
        }
    )


def _recalled(found: list[RecalledMemory]) -> str:
    return _json(
        {
            "memories": [
                {
                    "memory_id": item.memory.id,
                    "content": item.memory.content,
                    "content_type": item.memory.content_type,
                    "score": round(item.score, 4),
                }
                for item in found
            ]
        }
    )


def _forgotten(memory_id: str, forgotten: bool) -> str:
    if not forgotten:
        raise NotFoundError("no memory with that memory_id for this customer")
    return _json({"status": "forgotten", "memory_id": memory_id})


class MemoryTools:
    """The three tools over one store; each store call is guarded as dependency "memory"."""

    def __init__(
        self,
        store: MemoryStore,
        *,
        resilience: Resilience | None = None,
        default_tenant: str | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.store = store
        self.access_log = access_log
        self.default_tenant = default_tenant
        calls: dict[str, Callable[..., Any]] = {
            "remember": _mapped(store.remember),
            "recall": _mapped(store.recall),
            "forget": _mapped(store.forget),
            "aremember": _amapped(store.aremember),
            "arecall": _amapped(store.arecall),
            "aforget": _amapped(store.aforget),
        }
        if resilience is not None:
            calls = {
                name: resilience.guard(DEPENDENCY, operation=name.removeprefix("a"))(call)
                for name, call in calls.items()
            }
        self._calls = calls

    @contextlib.contextmanager
    def _caller(self, config: RunnableConfig) -> Iterator[tuple[CallerScope, Scope]]:
        """The caller and their memory scope, with guarded calls attributed to them."""
        with acting_as(config, default_tenant=self.default_tenant) as caller:
            yield caller, Scope(caller.tenant_id, caller.require_user(), caller.session_id)

    @contextlib.contextmanager
    def _scope(self, config: RunnableConfig) -> Iterator[Scope]:
        with self._caller(config) as (_caller, scope):
            yield scope

    def remember(
        self,
        content: str,
        content_type: ContentType = "fact",
        importance: float = 0.5,
        replaces: list[str] | None = None,
        *,
        config: RunnableConfig,
    ) -> str:
        with self._scope(config) as scope:
            result = self._calls["remember"](
                scope,
                content,
                content_type=content_type,
                importance=importance,
                supersedes=replaces or (),
            )
        return _remembered(result)

    async def aremember(
        self,
        content: str,
        content_type: ContentType = "fact",
        importance: float = 0.5,
        replaces: list[str] | None = None,
        *,
        config: RunnableConfig,
    ) -> str:
        with self._scope(config) as scope:
            result = await self._calls["aremember"](
                scope,
                content,
                content_type=content_type,
                importance=importance,
                supersedes=replaces or (),
            )
        return _remembered(result)

    def recall(
        self,
        query: str,
        content_types: list[ContentType] | None = None,
        limit: int = 5,
        *,
        config: RunnableConfig,
    ) -> str:
        with self._caller(config) as (caller, scope):
            found = self._calls["recall"](
                scope,
                query,
                content_types=content_types,
                limit=limit,
                query_embedding=precomputed_embedding(config, query),
            )
            if self.access_log is not None:
                for entry in read_entries(caller, "recall", [scope.user_id]):
                    self.access_log.record(**entry)
        return _recalled(found)

    async def arecall(
        self,
        query: str,
        content_types: list[ContentType] | None = None,
        limit: int = 5,
        *,
        config: RunnableConfig,
    ) -> str:
        with self._caller(config) as (caller, scope):
            found = await self._calls["arecall"](
                scope,
                query,
                content_types=content_types,
                limit=limit,
                query_embedding=precomputed_embedding(config, query),
            )
            if self.access_log is not None:
                for entry in read_entries(caller, "recall", [scope.user_id]):
                    await self.access_log.arecord(**entry)
        return _recalled(found)

    def forget(self, memory_id: str, *, config: RunnableConfig) -> str:
        with self._scope(config) as scope:
            return _forgotten(memory_id, self._calls["forget"](scope, memory_id))

    async def aforget(self, memory_id: str, *, config: RunnableConfig) -> str:
        with self._scope(config) as scope:
            return _forgotten(memory_id, await self._calls["aforget"](scope, memory_id))

    def tools(self) -> list[BaseTool]:
        common: dict[str, Any] = {
            "handle_tool_error": tool_error_handler,
            "handle_validation_error": validation_error_handler,
        }
        return [
            StructuredTool.from_function(
                func=self.remember,
                coroutine=self.aremember,
                name="remember",
                description=(
                    "Save a durable fact or preference about the current customer for future "
                    "conversations. If it is already known you get back the existing memory_id. "
                    "If it changes something already remembered (a new phone number, address, "
                    "size, contact preference...), the old memory is replaced and the answer "
                    "lists it under 'replaced': tell the customer the new value is noted."
                ),
                args_schema=RememberInput,
                **common,
            ),
            StructuredTool.from_function(
                func=self.recall,
                coroutine=self.arecall,
                name="recall",
                description=(
                    "Look up what is remembered about the current customer (facts, "
                    "preferences, identifiers, issues, past episodes), most relevant first, "
                    "with memory_ids. Only current memories: replaced ones are never returned."
                ),
                args_schema=RecallInput,
                **common,
            ),
            StructuredTool.from_function(
                func=self.forget,
                coroutine=self.aforget,
                name="forget",
                description=(
                    "Delete one memory of the current customer by memory_id, when they ask "
                    "you to forget it (recall it first to find its memory_id). To change a "
                    "fact, use remember instead: it replaces the old version."
                ),
                args_schema=ForgetInput,
                **common,
            ),
        ]


def build_memory_tools(
    store: MemoryStore,
    *,
    resilience: Resilience | None = None,
    default_tenant: str | None = None,
    access_log: AccessLog | None = None,
) -> list[BaseTool]:
    """``[remember, recall, forget]`` over ``store``; recalls go to ``access_log``."""
    tools = MemoryTools(
        store, resilience=resilience, default_tenant=default_tenant, access_log=access_log
    )
    return tools.tools()
