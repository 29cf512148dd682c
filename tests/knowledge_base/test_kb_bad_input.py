"""Whatever a model sends, search_knowledge_base answers with results or a structured error."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.messages import ToolMessage
from langchain_core.tools import BaseTool

from tools.knowledge_base import build_search_tool

from .conftest import build_kb
from .test_kb_ingest import write_docs

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
arguments = st.fixed_dictionaries(
    {},
    optional={
        "query": st.text(max_size=2500) | json_values,
        "k": st.integers(min_value=-5, max_value=200) | json_values,
        "filters": st.fixed_dictionaries(
            {}, optional={"source": json_values, "format": json_values, "other": json_values}
        )
        | json_values,
        "user_id": st.text(max_size=10),
    },
)


@pytest.fixture(scope="module")
def search_tool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BaseTool]:
    root = tmp_path_factory.mktemp("kb-bad-input")
    kb = build_kb(root, DeterministicFakeEmbedding(size=384))
    kb.ingestor.ingest([write_docs(root)])
    yield build_search_tool(kb.knowledge_base)
    kb.store.close()


@settings(max_examples=150, deadline=None)
@given(args=arguments)
def test_arbitrary_arguments_never_raise(search_tool: BaseTool, args: dict[str, Any]) -> None:
    message = search_tool.invoke(
        {"name": search_tool.name, "args": args, "id": "c1", "type": "tool_call"}
    )
    assert isinstance(message, ToolMessage)
    payload = json.loads(message.content)
    if message.status == "error":
        assert payload["error"]["code"] == "invalid_input"
        assert payload["error"]["retryable"] is False
    else:
        assert isinstance(payload["results"], list)
        assert len(payload["results"]) <= 50
