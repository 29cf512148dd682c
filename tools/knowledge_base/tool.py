"""``search_knowledge_base``: the StructuredTool a model calls to read the help articles."""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import StructuredTool
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
)

from tools.errors import tool_error_handler, validation_error_handler
from tools.inputs import SourceName, clean_text, not_blank
from tools.knowledge_base.search import KnowledgeBase, SearchResult
from tools.runtime import acting_as_if_known, precomputed_embedding

TOOL_NAME = "search_knowledge_base"
DESCRIPTION = (
    "Search the support knowledge base (help articles, FAQs, policies) for the documents "
    "that answer a customer's question. Pass the question in the customer's own words, "
    "with its details; a long message is fine. Returns one entry per document with its "
    "source, title, a relevance score between -1 and 1 (higher is better) and the passages "
    "that matched (and whether they matched by meaning or by keyword); cite the source. "
    "If nothing relevant comes back, rephrase the query once before telling the customer."
)
MAX_QUERY_CHARS = 8000
"""The schema's bound; the service enforces its configured ``max_query_chars`` too."""

SearchQuery = Annotated[
    str,
    BeforeValidator(clean_text),
    StringConstraints(max_length=MAX_QUERY_CHARS),
    AfterValidator(not_blank),
]


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: SourceName | None = Field(
        default=None,
        description="Only passages from this source id (as returned in an earlier result).",
    )
    format: Literal["markdown", "text", "html", "jsonl"] | None = Field(
        default=None, description="Only passages from documents of this format."
    )


class SearchKnowledgeBaseInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: SearchQuery = Field(
        description=(
            "What to look for, in plain words: the customer's problem or question "
            "(e.g. 'how do I reset my password'), or their whole message. "
            "At most 8,000 characters."
        )
    )
    k: int | None = Field(
        default=None,
        ge=1,
        le=50,
        description="How many passages to return (default 5; fewer is usually better).",
    )
    filters: SearchFilters | None = Field(
        default=None, description="Optional exact-match restrictions; omit to search everything."
    )


def _payload(results: list[SearchResult]) -> str:
    return orjson.dumps(
        {
            "results": [
                {
                    "source": r.source,
                    "title": r.title,
                    "score": r.score,
                    "passages": [
                        {"text": p.text, "matched_by": list(p.matched_by)} for p in r.passages
                    ],
                }
                for r in results
            ]
        }
    ).decode()


def build_search_tool(
    knowledge_base: KnowledgeBase, *, default_tenant: str | None = None
) -> StructuredTool:
    """The tool bound to one knowledge base (sync and async).

    The articles are shared, so the tool needs no customer; the caller's scope, when the
    runtime names one, is what session and tenant rate limits count against.
    """

    def search_knowledge_base(
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        config: RunnableConfig,
    ) -> str:
        with acting_as_if_known(config, default_tenant=default_tenant):
            results = knowledge_base.search(
                query,
                k,
                filters.model_dump() if filters else None,
                query_embedding=precomputed_embedding(config, query),
            )
        return _payload(results)

    async def asearch_knowledge_base(
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        *,
        config: RunnableConfig,
    ) -> str:
        with acting_as_if_known(config, default_tenant=default_tenant):
            results = await knowledge_base.asearch(
                query,
                k,
                filters.model_dump() if filters else None,
                query_embedding=precomputed_embedding(config, query),
            )
        return _payload(results)

    return StructuredTool.from_function(
        func=search_knowledge_base,
        coroutine=asearch_knowledge_base,
        name=TOOL_NAME,
        description=DESCRIPTION,
        args_schema=SearchKnowledgeBaseInput,
        handle_tool_error=tool_error_handler,
        handle_validation_error=validation_error_handler,
    )
