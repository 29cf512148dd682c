"""recall: embed the message once (retrieval reuses the vector) and recall the customer's
memories. A run with no customer recalls nothing: memories are always someone's."""

from __future__ import annotations

import logging
from typing import Any

from langgraph.runtime import Runtime

from graphs.support.context import Context, customer, settings_of
from graphs.support.dependencies import Dependencies
from graphs.support.state import State
from storage.memory import Scope
from tools.audit import read_entries
from tools.errors import ToolError

logger = logging.getLogger(__name__)


async def recall(state: State, runtime: Runtime[Context], *, deps: Dependencies) -> dict[str, Any]:
    who = customer(state, runtime, deps.services.settings.tenant_id)
    knobs = settings_of(runtime)
    services, query = deps.services, state["query"]
    try:
        vector = await deps.call(who, "embeddings", services.embeddings.aembed_query, query)
    except ToolError as exc:
        logger.warning("query embedding failed (%s)", exc.code)
        return {"query_embedding": None, "memories": [], "degraded": ["embeddings"]}
    if who.user_id is None:
        return {"query_embedding": vector, "memories": []}
    try:
        recalled = await deps.call(
            who,
            "memory",
            services.memory.arecall,
            Scope(who.tenant_id, who.user_id),
            query,
            limit=knobs.recall_k,
            query_embedding=vector,
        )
    except ToolError as exc:
        logger.warning("memory recall failed (%s)", exc.code)
        return {"query_embedding": vector, "memories": [], "degraded": ["memory"]}
    for entry in read_entries(who, "recall", [who.user_id]):
        await services.access_log.arecord(**entry)
    memories = [
        {
            "id": item.memory.id,
            "content": item.memory.content,
            "content_type": item.memory.content_type,
            "score": round(float(item.score), 4),
        }
        for item in recalled
        if item.score >= knobs.min_memory_score
    ]
    return {"query_embedding": vector, "memories": memories}
