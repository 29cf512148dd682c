"""What the nodes use, and the one way they call a dependency.

``build_graph`` binds a ``Dependencies`` to every node. ``SupportServices`` names the parts of
the process services (``agent.services.Services``) the graph needs, so ``graphs`` depends
only on the layers below it; any object with these attributes will do.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from graphs.support.model import ChatModelConfig, build_chat_model
from storage.access_log import AccessLog
from storage.memory import MemoryStore
from tools.config import EscalationConfig
from tools.crm.service import CRMService
from tools.escalation.service import EscalationService
from tools.knowledge_base.search import KnowledgeBase
from tools.resilience import Resilience, call_scope
from tools.runtime import CallerScope

T = TypeVar("T")


class GraphSettings(Protocol):
    tenant_id: str
    llm: ChatModelConfig
    escalation: EscalationConfig


class SupportServices(Protocol):
    settings: GraphSettings
    resilience: Resilience
    embeddings: Embeddings
    memory: MemoryStore
    crm_service: CRMService
    escalation: EscalationService
    access_log: AccessLog

    @property
    def knowledge_base(self) -> KnowledgeBase: ...

    @property
    def tools(self) -> list[BaseTool]: ...


@dataclass(frozen=True)
class Dependencies:
    services: SupportServices
    chat_model: BaseChatModel | None = None
    """A model that replaces the configured one (LangChain's fake chat models in tests)."""
    tools: Sequence[BaseTool] = ()
    _models: dict[str, BaseChatModel] = field(default_factory=dict, repr=False)

    def model_name(self, requested: str) -> str | None:
        """The chat model for this run: injected, named in the run context, or configured."""
        if self.chat_model is not None:
            return "injected"
        return requested or self.services.settings.llm.model or None

    def model(self, name: str) -> BaseChatModel:
        if self.chat_model is not None:
            return self.chat_model
        if name not in self._models:
            self._models[name] = build_chat_model(self.services.settings.llm, name)
        return self._models[name]

    async def call(
        self,
        caller: CallerScope,
        dependency: str | None,
        func: Callable[..., Awaitable[T]],
        *args: Any,
        retry: bool = True,
        **kwargs: Any,
    ) -> T:
        """``func`` through the resilience guard of ``dependency``, attributed to ``caller``
        (rate limits count against them). ``dependency=None``: ``func`` guards itself (the
        knowledge base, the CRM service). Failures come out as ``ToolError``.
        """
        if dependency is not None:
            operation = func.__name__.removeprefix("a")
            func = self.services.resilience.guard(dependency, operation=operation, retry=retry)(
                func
            )
        with call_scope(caller.tenant_id, caller.user_id, caller.session_id):
            return await func(*args, **kwargs)
