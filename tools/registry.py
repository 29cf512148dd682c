"""Every tool of the pack, built from its dependencies, with an honest status per tool.

A tool family whose dependency is missing or whose construction raises is *reported*
(status ``error`` with the reason, logged once) and left out of ``tools``; it is never
silently dropped, so the health endpoint and the operator see exactly what the model can use.
Tool families are imported lazily, so a broken optional module only disables its own tools.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_core.tools import BaseTool

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from storage.access_log import AccessLog
    from storage.engine import Database
    from storage.memory import MemoryStore
    from storage.redis import RedisHandle
    from tools.crm import CRMBackend
    from tools.escalation import EscalationService
    from tools.knowledge_base import KnowledgeBase
    from tools.resilience import Resilience

logger = logging.getLogger(__name__)

Status = Literal["available", "error"]


@dataclass
class ToolDependencies:
    """What the tools are built from; ``None`` means "not configured"."""

    default_tenant: str | None = None
    database: Database | None = None
    redis: RedisHandle | None = None
    resilience: Resilience | None = None
    embeddings: Embeddings | None = None
    memory_store: MemoryStore | None = None
    knowledge_base: KnowledgeBase | None = None
    crm_backend: CRMBackend | None = None
    crm_max_results: int = 5
    tickets: EscalationService | None = None
    access_log: AccessLog | None = None


class MissingDependencyError(RuntimeError):
    """A tool family cannot be built because a dependency was not provided."""


def _require(deps: ToolDependencies, *names: str) -> list[Any]:
    missing = [name for name in names if getattr(deps, name) is None]
    if missing:
        raise MissingDependencyError(f"not configured: {', '.join(missing)}")
    return [getattr(deps, name) for name in names]


def _knowledge_base(deps: ToolDependencies) -> list[BaseTool]:
    from tools.knowledge_base import build_search_tool

    (knowledge_base,) = _require(deps, "knowledge_base")
    return [build_search_tool(knowledge_base, default_tenant=deps.default_tenant)]


def _memory(deps: ToolDependencies) -> list[BaseTool]:
    from tools.memory_tools import build_memory_tools

    (store,) = _require(deps, "memory_store")
    return build_memory_tools(
        store,
        resilience=deps.resilience,
        default_tenant=deps.default_tenant,
        access_log=deps.access_log,
    )


def _crm(deps: ToolDependencies) -> list[BaseTool]:
    from tools.crm import CRMService, build_crm_tools

    backend, resilience = _require(deps, "crm_backend", "resilience")
    service = CRMService(
        backend, resilience, max_results=deps.crm_max_results, access_log=deps.access_log
    )
    return build_crm_tools(service, default_tenant=deps.default_tenant)


def _escalation(deps: ToolDependencies) -> list[BaseTool]:
    from tools.escalation import build_escalation_tool

    tickets, resilience = _require(deps, "tickets", "resilience")
    return [build_escalation_tool(tickets, resilience, default_tenant=deps.default_tenant)]


@dataclass(frozen=True)
class ToolFamily:
    """Tools built together; ``names`` lets a failed family still report each of its tools."""

    name: str
    names: tuple[str, ...]
    build: Callable[[ToolDependencies], list[BaseTool]]


FAMILIES: tuple[ToolFamily, ...] = (
    ToolFamily("knowledge_base", ("search_knowledge_base",), _knowledge_base),
    ToolFamily("memory", ("remember", "recall", "forget"), _memory),
    ToolFamily("crm", ("lookup_customer", "get_order"), _crm),
    ToolFamily("escalation", ("escalate_to_human",), _escalation),
)


@dataclass(frozen=True)
class ToolStatus:
    name: str
    family: str
    status: Status
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"family": self.family, "status": self.status, "error": self.error}


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    reason = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return reason[:300]


class ToolRegistry:
    """Builds the families once; ``tools`` are the usable ones, ``status()`` covers all."""

    def __init__(self, deps: ToolDependencies, families: Sequence[ToolFamily] = FAMILIES) -> None:
        self.deps = deps
        self._tools: dict[str, BaseTool] = {}
        self._status: dict[str, ToolStatus] = {}
        for family in families:
            self._build(family)

    def _build(self, family: ToolFamily) -> None:
        try:
            built = family.build(self.deps)
            names = [tool.name for tool in built]
            if sorted(names) != sorted(family.names):
                raise RuntimeError(f"built {sorted(names)}, expected {sorted(family.names)}")
        except Exception as exc:
            reason = _describe(exc)
            level = logging.WARNING if isinstance(exc, MissingDependencyError) else logging.ERROR
            logger.log(
                level,
                "tools unavailable: %s (%s)",
                ", ".join(family.names),
                reason,
                exc_info=not isinstance(exc, MissingDependencyError),
            )
            for name in family.names:
                self._status[name] = ToolStatus(name, family.name, "error", reason)
            return
        for tool in built:
            self._tools[tool.name] = tool
            self._status[tool.name] = ToolStatus(tool.name, family.name, "available")

    @property
    def tools(self) -> list[BaseTool]:
        """The tools a model can be given, in a stable order."""
        return list(self._tools.values())

    def get(self, name: str) -> BaseTool:
        if name in self._tools:
            return self._tools[name]
        status = self._status.get(name)
        if status is None:
            raise KeyError(f"no tool named {name!r}")
        raise KeyError(f"tool {name!r} is unavailable: {status.error}")

    def status(self) -> dict[str, dict[str, Any]]:
        """Per tool: family, ``available``/``error`` and the reason (for the health endpoint)."""
        return {name: status.to_dict() for name, status in self._status.items()}

    @property
    def unavailable(self) -> dict[str, str]:
        return {
            name: status.error or ""
            for name, status in self._status.items()
            if status.status == "error"
        }
