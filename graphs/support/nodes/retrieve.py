"""retrieve: knowledge-base passages for the message, and the order it names if the caller
may see it (``CRMService.aorder_for``: an order number is not a password)."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from graphs.support.context import Context, customer, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.safety import injection_markers
from graphs.support.state import State
from tools.errors import NotFoundError, ToolError

logger = logging.getLogger(__name__)


async def retrieve(
    state: State, runtime: Runtime[Context], *, deps: Dependencies
) -> dict[str, Any]:
    who = customer(state, runtime, deps.services.settings.tenant_id)
    degraded = list(state.get("degraded", []))
    flags = list(state.get("flags", []))
    try:
        results = await deps.call(
            who,
            None,
            deps.services.knowledge_base.asearch,
            state["query"],
            settings_of(runtime).kb_k,
            query_embedding=state.get("query_embedding"),
        )
    except ToolError as exc:
        logger.warning("knowledge-base search failed (%s)", exc.code)
        degraded.append("knowledge_base")
        results = []
    passages: list[dict[str, Any]] = []
    for result in results:
        markers = injection_markers(result.chunk)
        if markers:
            flags.extend(f"passage:{result.source}:{marker}" for marker in markers)
            continue
        passages.append(
            {
                "title": result.title,
                "source": result.source,
                "chunk": result.chunk_index,
                "content": result.chunk,
                "score": float(result.score),
            }
        )
    update: dict[str, Any] = {"passages": passages, "flags": flags, "degraded": degraded}
    order_id = state.get("order_id")
    if not order_id:
        return update
    try:
        order = await deps.call(who, None, deps.services.crm_service.aorder_for, who, order_id)
    except NotFoundError:
        return {**update, "order": None, "order_missing": order_id}
    except ToolError as exc:
        logger.warning("order lookup failed (%s)", exc.code)
        return {**update, "order": None, "degraded": [*degraded, "crm"]}
    return {**update, "order": order}
