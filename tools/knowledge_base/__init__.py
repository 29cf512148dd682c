"""The knowledge base: search tool, search service and ingest."""

from tools.knowledge_base.factory import KnowledgeBaseStack, open_knowledge_base
from tools.knowledge_base.ingest import FileOutcome, Ingestor, IngestSummary
from tools.knowledge_base.search import KnowledgeBase, SearchResult
from tools.knowledge_base.tool import TOOL_NAME, SearchKnowledgeBaseInput, build_search_tool

__all__ = [
    "TOOL_NAME",
    "FileOutcome",
    "IngestSummary",
    "Ingestor",
    "KnowledgeBase",
    "KnowledgeBaseStack",
    "SearchKnowledgeBaseInput",
    "SearchResult",
    "build_search_tool",
    "open_knowledge_base",
]
