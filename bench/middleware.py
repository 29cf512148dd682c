"""What ``ResilienceMiddleware`` adds to a ``create_agent`` turn, against the same agent bare.

One turn: a scripted model asks for one tool call, the tool answers, the model answers (two
model calls, one tool call). Rows (milliseconds per turn, median and p99, interleaved so
machine load hits every row alike): the bare ``create_agent``; the same with
``ResilienceMiddleware`` guarding the model and the tool with in-process state; the same
with LangChain's ``ToolRetryMiddleware`` + ``ModelRetryMiddleware`` instead (the library's
own resilience, for scale).

Run: ``.venv/bin/python -m bench.middleware [--turns 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import ModelRetryMiddleware, ToolRetryMiddleware
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.tools import tool
from rich.console import Console
from rich.table import Table

from tools.middleware import ResilienceMiddleware
from tools.resilience import Resilience, ResilienceConfig


class LoopingModel(GenericFakeChatModel):
    """Tool call, then answer, forever; accepts tools like a real chat model."""

    def bind_tools(self, tools: Any, **kwargs: Any) -> LoopingModel:
        return self


def _script() -> Any:
    i = 0
    while True:
        i += 1
        yield AIMessage("", tool_calls=[{"name": "lookup", "args": {"term": "x"}, "id": f"c{i}"}])
        yield AIMessage("done")


@tool
def lookup(term: str) -> str:
    """Look a term up."""
    return f"found {term}"


def _p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def interleaved(
    calls: dict[str, Callable[[], Awaitable[Any]]], n: int, warmup: int = 20
) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for i in range(warmup + n):
        for name, call in calls.items():
            start = time.perf_counter()
            await call()
            if i >= warmup:
                samples[name].append((time.perf_counter() - start) * 1000)
    return samples


async def main(turns: int) -> None:
    with Resilience(ResilienceConfig()) as resilience:
        agents = {
            "bare create_agent": create_agent(LoopingModel(messages=_script()), tools=[lookup]),
            "+ ResilienceMiddleware": create_agent(
                LoopingModel(messages=_script()),
                tools=[lookup],
                middleware=[ResilienceMiddleware(resilience, tools={"lookup": "lookup"})],
            ),
            "+ Tool/ModelRetryMiddleware": create_agent(
                LoopingModel(messages=_script()),
                tools=[lookup],
                middleware=[ToolRetryMiddleware(), ModelRetryMiddleware()],
            ),
        }

        def turn(agent: Any) -> Callable[[], Awaitable[Any]]:
            return lambda: agent.ainvoke({"messages": [("user", "look x up")]})

        measured = await interleaved({name: turn(a) for name, a in agents.items()}, turns)
    base = statistics.median(measured["bare create_agent"])
    table = Table(title=f"create_agent turn, 2 model calls + 1 tool call ({turns} turns)")
    for column in ("agent", "median ms", "p99 ms", "x bare"):
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name, samples in measured.items():
        median = statistics.median(samples)
        table.add_row(name, f"{median:.2f}", f"{_p99(samples):.2f}", f"{median / base:.3g}")
    Console().print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=300)
    asyncio.run(main(parser.parse_args().turns))
