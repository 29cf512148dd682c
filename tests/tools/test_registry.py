"""The registry builds every tool, and reports the ones it could not build."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.tools import BaseTool

from storage.config import ChromaConfig
from storage.engine import Database
from storage.memory import MemoryStore
from storage.tickets import TicketStore
from storage.vectorstore import VectorStore
from tools.config import EscalationConfig, KnowledgeBaseConfig
from tools.crm import SQLCRMBackend
from tools.escalation import EscalationService
from tools.knowledge_base import KnowledgeBase
from tools.registry import FAMILIES, ToolDependencies, ToolFamily, ToolRegistry
from tools.resilience import Resilience, ResilienceConfig

ALL = [
    "search_knowledge_base",
    "remember",
    "recall",
    "forget",
    "lookup_customer",
    "get_order",
    "escalate_to_human",
]


@pytest.fixture
def deps(
    tmp_path: Path, tools_database: Database, memory_store: MemoryStore
) -> Iterator[ToolDependencies]:
    embeddings = DeterministicFakeEmbedding(size=384)
    store = VectorStore(ChromaConfig(persist_dir=tmp_path / "chroma"), embeddings)
    resilience = Resilience(ResilienceConfig())
    yield ToolDependencies(
        default_tenant="acme",
        database=tools_database,
        resilience=resilience,
        embeddings=embeddings,
        memory_store=memory_store,
        knowledge_base=KnowledgeBase(store, embeddings, KnowledgeBaseConfig()),
        crm_backend=SQLCRMBackend(tools_database),
        tickets=EscalationService(TicketStore(tools_database), EscalationConfig()),
    )
    resilience.close()
    store.close()


def test_every_tool_is_built(deps: ToolDependencies) -> None:
    registry = ToolRegistry(deps)
    assert [tool.name for tool in registry.tools] == ALL
    assert all(isinstance(tool, BaseTool) for tool in registry.tools)
    assert registry.unavailable == {}
    assert registry.status()["get_order"] == {"family": "crm", "status": "available", "error": None}
    assert registry.get("recall").name == "recall"


def test_a_missing_dependency_is_reported_per_tool(
    deps: ToolDependencies, caplog: pytest.LogCaptureFixture
) -> None:
    deps.knowledge_base = None
    deps.resilience = None
    with caplog.at_level(logging.WARNING, logger="tools.registry"):
        registry = ToolRegistry(deps)
    assert [tool.name for tool in registry.tools] == ["remember", "recall", "forget"]
    assert registry.unavailable == {
        "search_knowledge_base": "MissingDependencyError: not configured: knowledge_base",
        "lookup_customer": "MissingDependencyError: not configured: resilience",
        "get_order": "MissingDependencyError: not configured: resilience",
        "escalate_to_human": "MissingDependencyError: not configured: resilience",
    }
    assert len(caplog.records) == 3
    with pytest.raises(KeyError, match="unavailable: MissingDependencyError"):
        registry.get("get_order")
    with pytest.raises(KeyError, match="no tool named"):
        registry.get("delete_everything")


def test_a_family_that_fails_to_build_is_reported_with_its_error(
    deps: ToolDependencies, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(_deps: ToolDependencies) -> list[BaseTool]:
        raise RuntimeError("index file is corrupt")

    def wrong(deps: ToolDependencies) -> list[BaseTool]:
        return FAMILIES[1].build(deps)[:1]

    families = [
        *FAMILIES[2:],
        ToolFamily("kb", ("search_knowledge_base",), explode),
        ToolFamily("memory", ("remember", "recall", "forget"), wrong),
    ]
    with caplog.at_level(logging.ERROR, logger="tools.registry"):
        registry = ToolRegistry(deps, families)
    assert [tool.name for tool in registry.tools] == [
        "lookup_customer",
        "get_order",
        "escalate_to_human",
    ]
    status = registry.status()
    assert status["search_knowledge_base"] == {
        "family": "kb",
        "status": "error",
        "error": "RuntimeError: index file is corrupt",
    }
    assert status["forget"]["error"] == (
        "RuntimeError: built ['remember'], expected ['forget', 'recall', 'remember']"
    )
    assert [r.levelno for r in caplog.records] == [logging.ERROR, logging.ERROR]
    assert "index file is corrupt" in caplog.records[0].getMessage()


def test_a_broken_tool_module_only_disables_its_own_tools(
    deps: ToolDependencies, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "tools.escalation", None)
    registry = ToolRegistry(deps)
    assert registry.status()["escalate_to_human"] == {
        "family": "escalation",
        "status": "error",
        "error": "ModuleNotFoundError: import of tools.escalation halted; None in sys.modules",
    }
    assert len(registry.tools) == len(ALL) - 1
