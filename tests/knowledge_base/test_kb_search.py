"""Search results, filters, the precomputed query vector and the tool's sync/async paths."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings

from tools.errors import InvalidInputError
from tools.knowledge_base import build_search_tool

from .conftest import KB
from .test_kb_ingest import write_docs


class CountingEmbeddings(Embeddings):
    def __init__(self, inner: Embeddings) -> None:
        self.inner = inner
        self.queries = 0

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries += 1
        return self.inner.embed_query(text)


@pytest.fixture
def kb(tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings) -> KB:
    built = make_kb(CountingEmbeddings(local_embeddings), cache=False)
    assert built.ingestor.ingest([write_docs(tmp_path)]).ok
    return built


def test_results_carry_source_title_chunk_and_score(kb: KB) -> None:
    results = kb.knowledge_base.search("I forgot my password, how do I sign in?", k=3)
    assert len(results) == 3
    best = results[0]
    assert (best.source, best.title) == ("reset.html", "Reset your password")
    assert "Forgot password" in best.chunk
    scores = [r.score for r in results]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s <= 1.0001 for s in scores)


def test_filters_restrict_by_source_and_format(kb: KB) -> None:
    only_faq = kb.knowledge_base.search("password", k=5, filters={"format": "jsonl"})
    assert {r.source for r in only_faq} == {"sf1", "g1"}
    one = kb.knowledge_base.search("money back", k=5, filters={"source": "shipping.txt"})
    assert {r.source for r in one} == {"shipping.txt"}
    both = kb.knowledge_base.search("anything", k=5, filters={"source": "sf1", "format": "jsonl"})
    assert [r.source for r in both] == ["sf1"]


def test_a_precomputed_query_vector_is_not_embedded_again(kb: KB) -> None:
    embeddings = kb.knowledge_base.embeddings
    assert isinstance(embeddings, CountingEmbeddings)
    query = "when will my order ship"
    vector = embeddings.inner.embed_query(query)
    tool = build_search_tool(kb.knowledge_base)
    config = {"configurable": {"turn_embedding": {"text": query, "vector": vector}}}

    payload = json.loads(tool.invoke({"query": query, "k": 1}, config=config))
    assert embeddings.queries == 0
    assert payload["results"][0]["source"] == "shipping.txt"

    tool.invoke({"query": "a different question", "k": 1}, config=config)
    assert embeddings.queries == 1


async def test_async_tool_matches_sync(kb: KB) -> None:
    tool = build_search_tool(kb.knowledge_base)
    args = {"query": "can I return something I bought", "k": 2}
    sync = json.loads(tool.invoke(args))
    asynchronous = json.loads(await tool.ainvoke(args))
    assert sync == asynchronous
    assert sync["results"][0]["source"] == "billing/refunds.md"
    assert set(sync["results"][0]) == {"source", "title", "score", "passages"}


@pytest.mark.parametrize(
    ("query", "k", "message"),
    [("   ", 3, "query is empty"), ("refund", 0, "k must be between 1 and 20")],
)
def test_the_service_rejects_bad_arguments(kb: KB, query: str, k: int, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        kb.knowledge_base.search(query, k)


@pytest.mark.parametrize(
    ("filters", "message"),
    [({"tenant": "x"}, "unknown filter 'tenant'"), ({"source": 3}, "must be a string")],
)
def test_bad_filters_from_python_callers_are_input_errors(
    kb: KB, filters: dict, message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        kb.knowledge_base.search("refund", 3, filters)


def test_empty_knowledge_base_returns_no_results(
    make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    empty = make_kb(fake_embeddings)
    tool = build_search_tool(empty.knowledge_base)
    assert json.loads(tool.invoke({"query": "anything"})) == {"results": []}
