"""The support agent graph: one customer turn.

    START → guard ─┬→ recall → triage ─┬→ escalate ─────────────────┬→ remember → END
                   │                   ├→ retrieve → respond ⇄ tools ┤
                   │                   ├→ forget ────────────────────┘
                   └→ END (rejected)   └→ respond (a needed dependency is down)

``build_graph(services=...)`` binds the process services to every node. Python callers pass
their own checkpointer (``aopen_checkpointer(settings)`` gives one on the configured
database); the LangGraph server brings its own and builds the graph through
``agent.server.support_graph``. The nodes are async: run the graph with ``ainvoke`` /
``astream`` (from synchronous code, ``asyncio.run(graph.ainvoke(...))``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from functools import partial
from pathlib import Path
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.store.base import BaseStore

from agent.run_telemetry import telemetry_callbacks
from graphs.support.context import Context
from graphs.support.dependencies import Dependencies, SupportServices
from graphs.support.nodes import (
    escalate,
    forget,
    guard,
    recall,
    remember,
    respond,
    retrieve,
    run_tools,
    triage,
)
from graphs.support.nodes.guard import route_after_guard
from graphs.support.nodes.respond import route_after_respond
from graphs.support.nodes.tools import tool_node
from graphs.support.nodes.triage import route_after_triage
from graphs.support.state import InputState, OutputState, State
from storage import checkpoints
from storage.config import DatabaseConfig, EncryptionConfig
from storage.sealing import Keyring


class Persistence(Protocol):
    """The settings a checkpointer needs (``agent.settings.Settings`` has them)."""

    database: DatabaseConfig
    data_dir: Path
    encryption: EncryptionConfig


def build_graph(
    *,
    services: SupportServices,
    checkpointer: BaseCheckpointSaver | None = None,
    store: BaseStore | None = None,
    chat_model: BaseChatModel | None = None,
    tools: Sequence[BaseTool] | None = None,
) -> CompiledStateGraph:
    """Compile the support graph over ``services`` (``agent.services.Services``).

    ``chat_model`` replaces the model named in the settings or the run context (tests pass
    LangChain's fake chat models); ``tools`` replaces the registry's tools given to it.
    """
    deps = Dependencies(services, chat_model, list(tools) if tools is not None else services.tools)
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node("guard", partial(guard, deps=deps))
    builder.add_node("recall", partial(recall, deps=deps))
    builder.add_node("triage", partial(triage, deps=deps))
    builder.add_node("escalate", partial(escalate, deps=deps))
    builder.add_node("forget", partial(forget, deps=deps))
    builder.add_node("retrieve", partial(retrieve, deps=deps))
    builder.add_node("respond", partial(respond, deps=deps))
    builder.add_node("tools", partial(run_tools, node=tool_node(deps)))
    builder.add_node("remember", partial(remember, deps=deps))
    builder.add_edge(START, "guard")
    builder.add_conditional_edges("guard", route_after_guard, ["recall", END])
    builder.add_edge("recall", "triage")
    builder.add_conditional_edges(
        "triage", route_after_triage, ["escalate", "forget", "retrieve", "respond"]
    )
    builder.add_edge("retrieve", "respond")
    builder.add_conditional_edges("respond", route_after_respond, ["tools", "remember"])
    builder.add_edge("tools", "respond")
    builder.add_edge("escalate", "remember")
    builder.add_edge("forget", "remember")
    builder.add_edge("remember", END)
    compiled = builder.compile(checkpointer=checkpointer, store=store, name="support")
    # Spans, metrics and log correlation ids for every run, whoever invokes the graph.
    return compiled.with_config(callbacks=telemetry_callbacks())


@contextlib.asynccontextmanager
async def aopen_checkpointer(settings: Persistence) -> AsyncIterator[BaseCheckpointSaver]:
    """The checkpointer for the configured database, closed on exit.

    It copies each conversation's owner (recorded by the guard node) into checkpoint
    metadata, which is how ``support-agent purge`` finds a customer's threads. With
    ``encryption.keys`` set it seals the conversation like the rest of the customer's text
    (``storage.checkpoint_sealing``); a wrong key raises ``SealingError`` here, on opening.
    """
    keyring = Keyring(settings.encryption.keys)
    async with checkpoints.aopen_checkpointer(
        settings.database, settings.data_dir, keyring
    ) as saver:
        yield saver
