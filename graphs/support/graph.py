"""The support agent graph, built two ways.

- ``graph`` (module level) is compiled WITHOUT a checkpointer, for ``langgraph dev`` and the
  LangGraph server: they supply their own persistence and ignore a compiled-in one
  (langgraph issue 5790). Its services are created lazily from the environment on the first
  run, so importing this module opens nothing.
- ``build_graph(services=..., checkpointer=..., store=...)`` for Python callers, with
  ``open_checkpointer(settings)`` / ``aopen_checkpointer(settings)`` giving the SQLite
  (embedded) or Postgres saver that matches the configured database.

Every node runs with ``invoke`` / ``stream`` and with ``ainvoke`` / ``astream``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import TYPE_CHECKING

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from graphs.support.context import Context
from graphs.support.nodes import (
    SupportNodes,
    route_after_guard,
    route_after_respond,
    route_after_triage,
)
from graphs.support.state import InputState, OutputState, State
from storage import checkpoints

if TYPE_CHECKING:
    from agent.services import Services
    from agent.settings import Settings


def build_graph(
    *,
    services: Services | None = None,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    chat_model: BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
) -> CompiledStateGraph:
    """Compile the support graph.

    ``services`` defaults to the process-wide instance (``agent.services.get_services``),
    created on first use. ``chat_model`` overrides the model named in the settings or the
    run context (tests pass LangChain's fake chat models here); ``tools`` replaces the
    registry's tools given to that model.
    """
    nodes = SupportNodes(services, chat_model, tools)
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("guard", nodes.node("guard"))
    builder.add_node("recall", nodes.node("recall"))
    builder.add_node("triage", nodes.node("triage"))
    builder.add_node("escalate", nodes.node("escalate"))
    builder.add_node("retrieve", nodes.node("retrieve"))
    builder.add_node("respond", nodes.node("respond"))
    builder.add_node("tools", nodes.tools_node())
    builder.add_node("remember", nodes.node("remember"))
    builder.add_edge(START, "guard")
    builder.add_conditional_edges("guard", route_after_guard, ["recall", END])
    builder.add_edge("recall", "triage")
    builder.add_conditional_edges("triage", route_after_triage, ["escalate", "retrieve", "respond"])
    builder.add_edge("retrieve", "respond")
    builder.add_conditional_edges("respond", route_after_respond, ["tools", "remember"])
    builder.add_edge("tools", "respond")
    builder.add_edge("escalate", "remember")
    builder.add_edge("remember", END)
    return builder.compile(checkpointer=checkpointer, store=store, name="support")


@contextlib.contextmanager
def open_checkpointer(settings: Settings) -> Iterator[BaseCheckpointSaver]:
    """The sync checkpointer for the configured database (for ``invoke`` / ``stream``)."""
    with checkpoints.open_checkpointer(settings.database, settings.data_dir) as saver:
        yield saver


@contextlib.asynccontextmanager
async def aopen_checkpointer(settings: Settings) -> AsyncIterator[BaseCheckpointSaver]:
    """The async checkpointer for the configured database (for ``ainvoke`` / ``astream``)."""
    async with checkpoints.aopen_checkpointer(settings.database, settings.data_dir) as saver:
        yield saver


graph = build_graph()
