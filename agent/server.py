"""What ``langgraph dev`` and the LangGraph server load (``langgraph.json``).

``support_graph`` is a graph factory: the server calls it when it needs the graph. It builds
the process services on first use, off the event loop (that loads the embedding model and
opens files), so importing this module opens nothing. The compiled graph is kept for as long
as the services it was built over; the server supplies the checkpointer and the store.
"""

from __future__ import annotations

import asyncio

from langgraph.graph.state import CompiledStateGraph

from agent.services import Services, get_services
from graphs.support import build_graph

_built: tuple[Services, CompiledStateGraph] | None = None


async def support_graph() -> CompiledStateGraph:
    """The support graph over the process services."""
    global _built
    services = await asyncio.to_thread(get_services)
    if _built is None or _built[0] is not services:
        _built = (services, build_graph(services=services))
    return _built[1]
