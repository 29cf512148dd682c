"""LangChain's standard tool tests for search_knowledge_base: unit, and against real services."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from storage.config import ChromaConfig, RedisConfig
from storage.redis import RedisHandle
from tools.knowledge_base import build_search_tool

from .conftest import KB, ChromaServer
from .test_kb_ingest import write_docs

EXAMPLE = {"query": "I forgot my password", "k": 3, "filters": {"format": "html"}}


class TestSearchToolUnit(ToolsUnitTests):
    @pytest.fixture(autouse=True)
    def _knowledge_base(
        self, tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
    ) -> None:
        kb = make_kb(fake_embeddings)
        kb.ingestor.ingest([write_docs(tmp_path)])
        self.kb = kb

    @property
    def tool_constructor(self) -> Any:
        return build_search_tool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"knowledge_base": self.kb.knowledge_base}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return EXAMPLE


class TestSearchToolIntegration(ToolsIntegrationTests):
    """Real embeddings, a Chroma server, the Redis cache."""

    @pytest.fixture(autouse=True)
    def _knowledge_base(
        self,
        tmp_path: Path,
        make_kb: Callable[..., KB],
        local_embeddings: Embeddings,
        chroma_server: ChromaServer,
        redis_url: str,
        redis_prefix: str,
    ) -> Iterator[None]:
        handle = RedisHandle.from_config(RedisConfig(url=redis_url, key_prefix=redis_prefix))
        assert handle is not None
        chroma = ChromaConfig(server_url=chroma_server.url, collection=f"kb_{redis_prefix}")
        kb = make_kb(local_embeddings, redis_handle=handle, chroma=chroma)
        kb.ingestor.ingest([write_docs(tmp_path)])
        self.kb = kb
        yield
        kb.store.client.delete_collection(chroma.collection)
        handle.close()

    @property
    def tool_constructor(self) -> Any:
        return build_search_tool

    @property
    def tool_constructor_params(self) -> dict[str, Any]:
        return {"knowledge_base": self.kb.knowledge_base}

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return EXAMPLE

    async def test_the_answer_comes_from_the_server_then_the_cache(self, tool: BaseTool) -> None:
        call = {"name": tool.name, "args": EXAMPLE, "id": "c1", "type": "tool_call"}
        first = await tool.ainvoke(call)
        second = tool.invoke(call)
        assert isinstance(first, ToolMessage)
        assert first.status == "success"
        assert first.content == second.content
        assert json.loads(first.content)["results"][0]["title"] == "Reset your password"
        assert self.kb.store.mode == "server"
        assert self.kb.cache is not None
        assert self.kb.cache.stats()["hits"] == 1
