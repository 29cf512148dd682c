"""tools: run the tool calls of the model's last message with LangGraph's ``ToolNode``.

The tools read the caller from the runtime themselves (``tools.runtime``); this node adds
only the turn's message embedding, so a search for the customer's own words is not embedded
twice. A tool failure that is not already a structured error is reported to the model by its
type alone: its message may carry SQL, URLs or customer data.
"""

from __future__ import annotations

import logging
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.prebuilt import ToolNode

from graphs.support.dependencies import Dependencies
from graphs.support.state import State
from tools.errors import failure_content

logger = logging.getLogger(__name__)


async def run_tools(state: State, config: RunnableConfig, *, node: ToolNode) -> dict[str, Any]:
    configurable = dict(config.get("configurable") or {})
    if state.get("query_embedding") is not None:
        configurable["turn_embedding"] = {
            "text": state["query"],
            "vector": state["query_embedding"],
        }
    return await node.ainvoke(state, {**config, "configurable": configurable})


def tool_node(deps: Dependencies) -> ToolNode:
    return ToolNode(list(deps.tools), handle_tool_errors=tool_failure)


def tool_failure(exc: Exception) -> str:
    """ToolNode's handler for what a tool did not turn into a ToolMessage itself."""
    logger.warning("tool raised %s; returned to the model as an error", type(exc).__name__)
    return failure_content(exc)
