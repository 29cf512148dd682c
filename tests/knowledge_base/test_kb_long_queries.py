"""Long questions are searched, not refused; results are documents; BM25 follows ingest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from langchain_core.embeddings import Embeddings
from langchain_core.messages import ToolMessage

from tools.knowledge_base import build_search_tool
from tools.knowledge_base.query import MAX_WINDOWS, WINDOW_CHARS, windows

from .conftest import KB

SCENARIO = (
    "Hello, I am writing because something odd happened last week and I am not sure who "
    "to ask. I ordered a few things from you for my sister's birthday, a wool scarf and a "
    "ceramic mug, and paid with my usual card as I always do. Delivery was supposed to take "
    "two days, which suited me because the party was on Saturday and I had planned the whole "
    "afternoon around it, with the cake, the decorations and a few friends coming over from "
    "out of town. On Thursday I checked the tracking page, as I usually do, because I wanted "
    "to make sure somebody would be at home to receive it. My neighbour works from home and "
    "offered to take it in, which is kind of her, but she is away on Friday. The tracking "
    "page showed the parcel had left the depot and was on its way, and then nothing more for "
    "a whole day, which worried me a little because I had not seen that before. I looked "
    "through the help pages and the emails you sent me, but none of them mentioned this "
    "situation at all, and I did not want to call the courier without knowing what to ask. "
) * 2 + (
    "My real question is this: the parcel tracking page now shows a zorblax hold code and "
    "I would like to know what that means and whether I need to do anything about it."
)


def _docs(root: Path) -> Path:
    docs = root / "docs"
    docs.mkdir()
    (docs / "gifts.md").write_text(
        "# Birthday gifts\n\nWe gift-wrap scarves, mugs and cards for birthdays.\n\n"
        + "Choose gift wrap at checkout. " * 60
    )
    (docs / "colours.md").write_text(
        "# Wrong colour\n\nIf an item arrived in the wrong colour, exchange it for free.\n"
    )
    (docs / "holds.md").write_text(
        "# Carrier hold codes\n\nA zorblax hold code means the carrier holds the parcel "
        "until you confirm your address in the tracking page. Confirm it and the parcel "
        "moves within a day.\n"
    )
    (docs / "cards.md").write_text("# Payment cards\n\nWe accept Visa and Mastercard.\n")
    return docs


@given(st.text(max_size=8000))
def test_windows_fit_the_model_and_are_bounded(text: str) -> None:
    parts = windows(text)
    assert len(parts) <= MAX_WINDOWS
    assert all(0 < len(part) <= WINDOW_CHARS for part in parts)
    assert bool(parts) == bool(text.split())


def test_a_long_question_is_answered_with_documents_and_their_matched_passages(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    kb = make_kb(local_embeddings, cache=False)
    assert kb.ingestor.ingest([_docs(tmp_path)]).ok
    assert len(SCENARIO) > 2000
    tool = build_search_tool(kb.knowledge_base)
    payload = json.loads(tool.invoke({"query": SCENARIO, "k": 3}))
    sources = [r["source"] for r in payload["results"]]
    assert len(sources) == len(set(sources)) == 3
    assert "holds.md" in sources
    hold = next(r for r in payload["results"] if r["source"] == "holds.md")
    assert "keyword" in hold["passages"][0]["matched_by"]
    assert "zorblax" in hold["passages"][0]["text"]


def test_k_counts_documents_not_chunks(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    kb = make_kb(local_embeddings, cache=False)
    assert kb.ingestor.ingest([_docs(tmp_path)]).ok
    results = kb.knowledge_base.search("how do I get gift wrap for a birthday scarf", k=2)
    assert len({r.source for r in results}) == 2
    gifts = next(r for r in results if r.source == "gifts.md")
    assert 1 <= len(gifts.passages) <= 3
    assert gifts.chunk == gifts.passages[0].text


def test_the_keyword_index_follows_ingest_and_removal(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    kb = make_kb(local_embeddings)
    docs = _docs(tmp_path)
    assert kb.ingestor.ingest([docs]).ok
    assert "holds.md" in {r.source for r in kb.knowledge_base.search(SCENARIO, k=4)}
    (docs / "holds.md").unlink()
    assert kb.ingestor.ingest([docs]).counts["removed"] == 1
    assert kb.knowledge_base.lexical.search("zorblax hold code", 5) == []
    assert "holds.md" not in {r.source for r in kb.knowledge_base.search(SCENARIO, k=4)}


def test_a_query_over_the_limit_is_a_structured_error(
    tmp_path: Path, make_kb: Callable[..., KB], fake_embeddings: Embeddings
) -> None:
    kb = make_kb(fake_embeddings, cache=False)
    tool = build_search_tool(kb.knowledge_base)
    message = tool.invoke(
        {
            "name": "search_knowledge_base",
            "args": {"query": "x " * 4001},
            "id": "1",
            "type": "tool_call",
        }
    )
    assert isinstance(message, ToolMessage)
    assert message.status == "error"
    error = json.loads(message.content)["error"]
    assert error["code"] == "invalid_input"
    assert error["retryable"] is False
    assert "8000" in error["message"] or "8,000" in error["message"]


def test_filters_hold_for_long_queries_on_both_retrievers(
    tmp_path: Path, make_kb: Callable[..., KB], local_embeddings: Embeddings
) -> None:
    kb = make_kb(local_embeddings, cache=False)
    assert kb.ingestor.ingest([_docs(tmp_path)]).ok
    results = kb.knowledge_base.search(SCENARIO, k=4, filters={"source": "cards.md"})
    assert [r.source for r in results] == ["cards.md"]
