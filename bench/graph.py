"""Benchmark of a full offline support turn against LangGraph's own floor, in one run.

Rows per mode (embedded: SQLite + embedded Chroma + in-process state; production-like:
Postgres + Redis + embedded Chroma):
- ``noop floor``: a 6-node graph of no-op nodes with the same checkpointer and the same
  input (LangGraph's own cost of a turn: checkpoints and channel writes);
- ``embed_query``: the one query embedding a turn makes (local ONNX model);
- ``offline turn``: the whole support graph (guard, recall, triage, retrieve, respond,
  remember) on the demo knowledge base, answered by the offline responder;
- ``turn - embedding``: the turn without its one embedding, compared with the floor
  (target: at most 5x);
- ``50 concurrent``: 50 conversations of 2 turns each at once: throughput, errors, and the
  database pools' peak use, summed (exhaustion shows up as errors or a full pool with waiters).

Run: ``.venv/bin/python -m bench.graph [--turns N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, TypedDict

import psycopg
import redis
from langchain_core.messages import AnyMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from rich.console import Console
from rich.table import Table
from sqlalchemy import make_url

from agent.demo import MAYA, prepare
from agent.services import Services
from agent.settings import Settings, load_settings
from graphs.support import aopen_checkpointer, build_graph

QUESTIONS = [
    "How long does a refund take to show up on my credit card?",
    "Do you ship to Canada and how much does it cost?",
    "Can I change the shipping address of my order?",
    "What is your return policy?",
    "I forgot my password, what should I do?",
    "Which payment methods do you accept?",
    "Where is my order #W1000101?",
    "Please only contact me by email, never by phone.",
]
CONCURRENT = 50


class FloorState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


async def _noop(_state: FloorState) -> dict[str, Any]:
    return {}


def floor_graph(checkpointer: BaseCheckpointSaver) -> Any:
    builder = StateGraph(FloorState)
    names = [f"n{i}" for i in range(6)]
    for name in names:
        builder.add_node(name, _noop)
    builder.add_edge(START, names[0])
    for first, second in itertools.pairwise(names):
        builder.add_edge(first, second)
    return builder.compile(checkpointer=checkpointer)


async def interleaved(
    calls: dict[str, Callable[[int], Awaitable[Any]]], n: int, warmup: int = 5
) -> dict[str, list[float]]:
    """Run the calls round-robin so machine load hits every row alike (this box is shared)."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(warmup + n):
        for name, call in calls.items():
            start = time.perf_counter()
            await call(i)
            if i >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000)
    return samples


def p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _thread(i: int, tag: str) -> dict[str, Any]:
    """A new thread every 4 turns: conversations grow, but not without bound."""
    return {"configurable": {"thread_id": f"bench-{tag}-{i // 4}"}}


async def measure(settings: Settings, mode: str, turns: int, table: Table) -> None:
    async with await Services.open(settings) as services, aopen_checkpointer(settings) as saver:
        await prepare(services, None)
        graph = build_graph(services=services, checkpointer=saver)
        floor = floor_graph(saver)
        tag = uuid.uuid4().hex[:8]
        context = {"tenant_id": settings.tenant_id, "user_id": MAYA}

        async def floor_turn(i: int) -> Any:
            message = HumanMessage(QUESTIONS[i % len(QUESTIONS)])
            return await floor.ainvoke({"messages": [message]}, _thread(i, f"f{tag}"))

        async def embed(i: int) -> Any:
            return await services.embeddings.aembed_query(QUESTIONS[i % len(QUESTIONS)] + str(i))

        async def full_turn(i: int) -> Any:
            message = HumanMessage(QUESTIONS[i % len(QUESTIONS)])
            return await graph.ainvoke(
                {"messages": [message]}, _thread(i, f"t{tag}"), context=context
            )

        measured = await interleaved(
            {"floor": floor_turn, "embed": embed, "turn": full_turn}, turns
        )
        floor_ms, embed_ms, turn_ms = measured["floor"], measured["embed"], measured["turn"]
        without = [t - statistics.median(embed_ms) for t in turn_ms]
        base = statistics.median(floor_ms)
        for name, samples in (
            ("noop floor (6 nodes)", floor_ms),
            ("embed_query", embed_ms),
            ("offline turn", turn_ms),
            ("turn - embedding", without),
        ):
            table.add_row(
                mode,
                name,
                f"{statistics.median(samples):.2f}",
                f"{p(samples, 0.95):.2f}",
                f"{p(samples, 0.99):.2f}",
                f"{statistics.median(samples) / base:.1f}x",
            )
        table.add_row(*await concurrent(graph, services, saver, settings, mode, tag))


async def concurrent(
    graph: Any, services: Any, saver: Any, settings: Settings, mode: str, tag: str
) -> tuple[str, ...]:
    """50 conversations at once; a sampler records the pools' peak use while they run."""
    errors = 0
    peak = {"database": 0, "checkpointer_waiting": 0}
    done = asyncio.Event()

    async def sample() -> None:
        while not done.is_set():
            pools = services.database.pool_status()  # every pool: sum what is in use
            used = sum(
                pool.get("checked_out", 0) for pool in pools.values() if isinstance(pool, dict)
            )
            peak["database"] = max(peak["database"], used)
            stats = getattr(getattr(saver, "conn", None), "get_stats", None)
            if stats is not None:
                waiting = stats().get("requests_waiting", 0)
                peak["checkpointer_waiting"] = max(peak["checkpointer_waiting"], waiting)
            await asyncio.sleep(0.002)

    async def conversation(n: int) -> None:
        nonlocal errors
        config = {"configurable": {"thread_id": f"bench-c{tag}-{n}"}}
        context = {"tenant_id": settings.tenant_id, "user_id": f"bench_user_{n}"}
        for turn in range(2):
            text = QUESTIONS[(n + turn) % len(QUESTIONS)]
            try:
                result = await graph.ainvoke(
                    {"messages": [HumanMessage(text)]}, config, context=context
                )
            except Exception as exc:
                print(f"turn failed: {type(exc).__name__}: {exc}")
                errors += 1
                continue
            if result.get("degraded"):
                print(f"turn degraded: {result['degraded']}")
                errors += 1

    sampler = asyncio.create_task(sample())
    start = time.perf_counter()
    await asyncio.gather(*(conversation(n) for n in range(CONCURRENT)))
    elapsed = time.perf_counter() - start
    done.set()
    await sampler
    limit = settings.database.pool_size + settings.database.max_overflow
    return (
        mode,
        f"{CONCURRENT} concurrent x 2 turns",
        f"{CONCURRENT * 2 / elapsed:.1f} turns/s",
        f"errors={errors}",
        f"db in use {peak['database']} (pools of {limit})",
        f"ckpt waiters {peak['checkpointer_waiting']}",
    )


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A database of the bench's own, dropped afterwards."""
    server = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
    admin = make_url(server).set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"sa_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield (
            make_url(server)
            .set(drivername="postgresql+psycopg", database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


async def main(turns: int) -> None:
    table = Table(title=f"support graph turn vs LangGraph floor ({turns} turns per row)")
    for column in ("mode", "what", "p50 ms", "p95 ms", "p99 ms", "x floor p50"):
        table.add_column(column)
    with tempfile.TemporaryDirectory() as tmp:
        embedded = load_settings(environment="test", data_dir=Path(tmp) / "embedded")
        await measure(embedded, "SQLite + Chroma", turns, table)
        async with postgres_database() as url:
            from storage import migrate
            from storage.engine import Database

            redis_url = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
            prefix = f"sabench{uuid.uuid4().hex[:6]}"
            production = load_settings(
                environment="test",
                data_dir=Path(tmp) / "pg",
                database={"url": url},
                redis={"url": redis_url, "key_prefix": prefix},
            )
            database = Database(production.database)
            try:
                migrate.upgrade(database)
            finally:
                database.dispose()
            try:
                await measure(production, "Postgres + Redis", turns, table)
            finally:
                _delete_keys(redis_url, prefix)
    Console(width=150).print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=100, help="measured turns per row")
    asyncio.run(main(parser.parse_args().turns))
