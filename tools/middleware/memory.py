"""``MemoryMiddleware``: the customer's memories before the model, their new facts after.

- **recall** (``before_agent``, once per turn): the customer's memories most relevant to
  their latest message, kept only above ``min_score`` and within ``max_chars``, are added to
  the system message of every model call of the turn (``wrap_model_call``); they live in a
  private state key, never in the conversation the customer sees.
- **remember** (``after_agent``): the durable facts ``extract`` finds in the customer's
  latest message are stored with ``MemoryStore.aremember``, which deduplicates (and
  supersedes) exactly as for our graph. Put LangChain's ``PIIMiddleware`` (with
  ``apply_to_input``) before this one and it stores the redacted text. Given a ``judge``
  chat model, the async hook first asks it which close memories each fact makes out of
  date (``tools.correction_judge``, as our graph's remember node does); the sync hook, and
  any failure of the judge, leave the store's rules to decide alone.

Identity comes from the runtime like the tools' (``tools.runtime``): a run without a
customer recalls and keeps nothing, and neither does a staff member's run (what staff type
is not the customer's fact). Memory failures are logged by code and the turn goes on
without memories, as in our graph.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Annotated, Any, NotRequired

from langchain.agents.middleware import (
    AgentMiddleware,
    AgentState,
    ModelCallResult,
    ModelRequest,
    ModelResponse,
)
from langchain.agents.middleware.types import PrivateStateAttr
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime

from storage.access_log import AccessLog
from storage.memory import MemoryStore, RecalledMemory, Scope
from storage.text import clean_text
from tools.audit import read_entries
from tools.correction_judge import CorrectionJudge, verdicts
from tools.errors import ToolError
from tools.resilience import Resilience, call_scope
from tools.runtime import CallerScope, caller_scope
from tools.stated_facts import Fact, provenance, remember_stated

logger = logging.getLogger(__name__)

_MAX_QUERY = 2000

MEMORY_HEADER = (
    "What this customer told us in earlier conversations (most relevant first; it may be "
    "out of date, so confirm before acting on it):"
)


Extract = Callable[[str], Iterable[Fact]]


class MemoryState(AgentState):
    support_memories: NotRequired[Annotated[list[str], PrivateStateAttr]]


def latest_customer_text(messages: Sequence[AnyMessage]) -> str:
    """The text of the last human message, cleaned (``storage.text``)."""
    for message in reversed(messages):
        if isinstance(message, HumanMessage):
            return clean_text(message.text)
    return ""


def budgeted(contents: Iterable[str], max_chars: int) -> list[str]:
    """The memories, best first, that fit in ``max_chars`` together."""
    kept: list[str] = []
    used = 0
    for content in contents:
        if used + len(content) > max_chars:
            break
        kept.append(content)
        used += len(content)
    return kept


class MemoryMiddleware(AgentMiddleware[MemoryState, Any]):
    state_schema = MemoryState

    def __init__(
        self,
        store: MemoryStore,
        resilience: Resilience,
        *,
        extract: Extract,
        access_log: AccessLog | None = None,
        default_tenant: str | None = None,
        limit: int = 3,
        min_score: float = 0.25,
        max_chars: int = 1500,
        judge: BaseChatModel | None = None,
    ) -> None:
        super().__init__()
        self.extract = extract
        self.access_log = access_log
        self.default_tenant = default_tenant
        self.limit = limit
        self.min_score = min_score
        self.max_chars = max_chars
        self._recall = resilience.guard("memory", operation="recall")(store.recall)
        self._arecall = resilience.guard("memory", operation="recall")(store.arecall)
        self._remember = resilience.guard("memory", operation="remember")(store.remember)
        self._aremember = resilience.guard("memory", operation="remember")(store.aremember)
        self._aneighbours = resilience.guard("memory", operation="neighbours")(store.aneighbours)
        asked = None if judge is None else verdicts(judge)
        self._ajudge = (
            None if asked is None else resilience.guard("llm", operation="judge")(asked.ainvoke)
        )

    def _customer(self) -> CallerScope | None:
        """The customer this run serves, or None (nobody named, or staff)."""
        scope = caller_scope(get_config(), default_tenant=self.default_tenant)
        return None if scope.user_id is None or scope.is_staff else scope

    def _subject(self, state: MemoryState) -> tuple[CallerScope, str] | None:
        """The customer and their latest message, or None when there is nothing to do."""
        text = latest_customer_text(state["messages"])
        who = self._customer() if text else None
        return None if who is None else (who, text)

    def _relevant(self, recalled: Sequence[RecalledMemory]) -> dict[str, Any]:
        kept = (item.memory.content for item in recalled if item.score >= self.min_score)
        return {"support_memories": budgeted(kept, self.max_chars)}

    def before_agent(self, state: MemoryState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        subject = self._subject(state)
        if subject is None:
            return {"support_memories": []}
        who, query = subject
        try:
            with call_scope(who.tenant_id, who.user_id, who.session_id):
                recalled = self._recall(
                    Scope(who.tenant_id, who.user_id or ""), query[:_MAX_QUERY], limit=self.limit
                )
        except ToolError as exc:
            logger.warning("memory recall failed (%s)", exc.code)
            return {"support_memories": []}
        if self.access_log is not None:
            for entry in read_entries(who, "recall", [who.user_id or ""]):
                self.access_log.record(**entry)
        return self._relevant(recalled)

    async def abefore_agent(
        self, state: MemoryState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        subject = self._subject(state)
        if subject is None:
            return {"support_memories": []}
        who, query = subject
        try:
            with call_scope(who.tenant_id, who.user_id, who.session_id):
                recalled = await self._arecall(
                    Scope(who.tenant_id, who.user_id or ""), query[:_MAX_QUERY], limit=self.limit
                )
        except ToolError as exc:
            logger.warning("memory recall failed (%s)", exc.code)
            return {"support_memories": []}
        if self.access_log is not None:
            for entry in read_entries(who, "recall", [who.user_id or ""]):
                await self.access_log.arecord(**entry)
        return self._relevant(recalled)

    def _with_memories(self, request: ModelRequest) -> ModelRequest:
        memories = request.state.get("support_memories") or []
        if not memories:
            return request
        block = "\n".join([MEMORY_HEADER, *(f"- {memory}" for memory in memories)])
        prompt = request.system_prompt
        text = f"{prompt}\n\n{block}" if prompt else block
        return request.override(system_message=SystemMessage(text))

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelCallResult:
        return handler(self._with_memories(request))

    async def awrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], Any]
    ) -> ModelCallResult:
        return await handler(self._with_memories(request))

    def _judge(self, scope: Scope) -> CorrectionJudge | None:
        if self._ajudge is None:
            return None
        return CorrectionJudge(functools.partial(self._aneighbours, scope), self._ajudge)

    def after_agent(self, state: MemoryState, runtime: Runtime[Any]) -> dict[str, Any] | None:
        subject = self._subject(state)
        if subject is None:
            return None
        who, text = subject
        try:
            with call_scope(who.tenant_id, who.user_id, who.session_id):
                for fact in self.extract(text):
                    self._remember(
                        Scope(who.tenant_id, who.user_id or ""),
                        fact.content,
                        content_type=fact.content_type,
                        importance=fact.importance,
                        metadata=provenance(who.session_id),
                    )
        except ToolError as exc:
            logger.warning("remember failed (%s)", exc.code)
        return None

    async def aafter_agent(
        self, state: MemoryState, runtime: Runtime[Any]
    ) -> dict[str, Any] | None:
        subject = self._subject(state)
        if subject is None:
            return None
        who, text = subject
        scope = Scope(who.tenant_id, who.user_id or "")
        judge = self._judge(scope)
        try:
            with call_scope(who.tenant_id, who.user_id, who.session_id):
                for fact in self.extract(text):
                    await remember_stated(
                        fact, scope, remember=self._aremember, judge=judge, thread=who.session_id
                    )
        except ToolError as exc:
            logger.warning("remember failed (%s)", exc.code)
        return None
