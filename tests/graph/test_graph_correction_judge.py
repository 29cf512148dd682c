"""The correction judge through the graph: a chat model on the wire (the scripted server)
picks what a new fact makes out of date where the store's rules see nothing.

The running example is a move the rules miss: "I now live in Portland" after "I live in
Seattle" (no house number, so no address slot; cosine 0.6 and a changed name, so no
neighbour). Each turn's first request is the respond node's, the second the judge's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver

from agent.services import Services
from graphs.support import build_graph
from storage.memory import Scope
from tests.openai_server import Malformed, ModelServer, Reply, Status, Text, ToolCalls, serve_model

from .conftest import turn

SEATTLE = "Please remember that I live in Seattle."
PORTLAND = "Please note that I now live in Portland."
CONFIRMED = "I've updated my notes: I now live in Portland. This replaces what I had before."


@pytest.fixture
def model_server() -> Iterator[ModelServer]:
    with serve_model() as server:
        yield server


def _graph(services: Services, server: ModelServer, *, timeout: float = 30) -> Any:
    model = ChatOpenAI(
        model="scripted", base_url=server.base_url, api_key="k", max_retries=0, timeout=timeout
    )
    return build_graph(services=services, checkpointer=InMemorySaver(), chat_model=model)


def _verdict(*numbers: Any) -> ToolCalls:
    return ToolCalls([("OutdatedNotes", {"outdated": list(numbers)})])


async def _states(services: Services, user: str) -> dict[str, str]:
    exported = await services.memory.aexport(services.settings.tenant_id, user)
    return {m["content"]: m["state"] for m in exported["memories"]}


async def _seed(services: Services, user: str, *facts: tuple[str, str]) -> dict[str, str]:
    scope = Scope(services.settings.tenant_id, user)
    ids = {}
    for content, kind in facts:
        ids[content] = (
            await services.memory.aremember(scope, content, content_type=kind)
        ).memory.id
    return ids


async def test_offline_the_rules_miss_the_move_and_no_judge_runs(
    graph: Any, services: Services, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked: list[str] = []

    async def spy(*args: Any, **kwargs: Any) -> Any:
        looked.append("neighbours")
        return []

    monkeypatch.setattr(services.memory, "aneighbours", spy)
    await turn(graph, SEATTLE, user=user)
    moved = await turn(graph, PORTLAND, user=user)

    assert [f["superseded"] for f in moved["remembered"]] == [[]]
    assert "updated my notes" not in moved["messages"][-1].text
    assert await _states(services, user) == {
        "I live in Seattle": "live",
        "I now live in Portland": "live",
    }
    assert looked == [], "offline, nothing is looked up for a judge, no model is asked"


async def test_the_judge_supersedes_the_move_and_the_reply_confirms_it(
    services: Services, model_server: ModelServer, user: str
) -> None:
    graph = _graph(services, model_server)
    model_server.script(Text("Noted."))
    first = await turn(graph, SEATTLE, user=user)
    assert len(model_server.requests) == 1, "no candidate yet: the judge asks nothing"
    seattle = first["remembered"][0]["memory_id"]

    model_server.script(Text("Thanks, noted."), _verdict(1))
    moved = await turn(graph, PORTLAND, user=user)

    assert moved["messages"][-1].text == CONFIRMED
    assert [f["superseded"] for f in moved["remembered"]] == [[seattle]]
    assert await _states(services, user) == {
        "I live in Seattle": "superseded",
        "I now live in Portland": "live",
    }
    judge = model_server.requests[-1].body
    assert judge["tool_choice"]["function"]["name"] == "OutdatedNotes"
    asked = judge["messages"][-1]["content"]
    assert "<fact>\nI now live in Portland\n</fact>" in asked
    assert "1. I live in Seattle" in asked
    assert seattle not in json.dumps(judge), "the model never sees a memory id"


async def test_numbers_outside_the_candidates_are_ignored(
    services: Services, model_server: ModelServer, user: str
) -> None:
    ids = await _seed(
        services,
        user,
        ("My office is in Portland", "fact"),
        ("I live in Seattle", "fact"),
        ("I'm allergic to latex", "fact"),
        ("Reported issue: my parcel from Seattle arrived damaged", "issue"),
    )
    model_server.script(Text("Thanks, noted."), _verdict(2, -1, 7))

    moved = await turn(_graph(services, model_server), PORTLAND, user=user)

    asked = model_server.requests[-1].body["messages"][-1]["content"]
    assert "1. My office is in Portland\n2. I live in Seattle\n</notes>" in asked
    assert [f["superseded"] for f in moved["remembered"]] == [[ids["I live in Seattle"]]]
    assert moved["messages"][-1].text == CONFIRMED
    states = await _states(services, user)
    assert states.pop("I live in Seattle") == "superseded"
    assert set(states.values()) == {"live"}


FAILURES: dict[str, list[Reply]] = {
    "server_error": [Status(500), Status(500)],  # the llm policy re-sends a 5xx once
    "timeout": [Text("too late", delay_s=3)],
    "not_json": [ToolCalls([("OutdatedNotes", '{"outdated": [1')])],
    "no_tool_call": [Text("1")],
    "a_memory_id": [ToolCalls([("OutdatedNotes", {"outdated": ["<id>"]})])],
    "too_many": [_verdict(1, 1, 1, 1)],
    "cut_off": [Malformed()],
}


@pytest.mark.parametrize("failure", FAILURES)
async def test_a_failed_judgement_leaves_the_rules_and_the_turn_succeeds(
    services: Services,
    model_server: ModelServer,
    user: str,
    failure: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await _seed(services, user, ("I live in Seattle", "fact"))
    replies = [
        ToolCalls([("OutdatedNotes", {"outdated": [ids["I live in Seattle"]]})])
        if failure == "a_memory_id"
        else reply
        for reply in FAILURES[failure]
    ]
    model_server.script(Text("Thanks, noted."), *replies)
    graph = _graph(services, model_server, timeout=1)

    with caplog.at_level(logging.WARNING):
        moved = await turn(graph, PORTLAND, user=user)

    assert model_server.pending == 0, "the judge was asked"
    assert moved["messages"][-1].text == "Thanks, noted."
    assert "llm" not in moved["degraded"]
    assert [f["superseded"] for f in moved["remembered"]] == [[]]
    assert await _states(services, user) == {
        "I live in Seattle": "live",
        "I now live in Portland": "live",
    }
    judged = [r.getMessage() for r in caplog.records if "correction judge" in r.getMessage()]
    assert len(judged) == 1
    assert judged[0].startswith("correction judge failed (")
    assert not any(
        "Portland" in r.getMessage() or "Seattle" in r.getMessage() for r in caplog.records
    )


async def test_the_guards_refuse_to_let_a_judgement_replace_a_fact_that_still_holds(
    services: Services, model_server: ModelServer, user: str
) -> None:
    await _seed(services, user, ("I have a dog", "fact"))
    model_server.script(Text("Noted."), _verdict(1))

    cat = await turn(
        _graph(services, model_server), "Please remember that I have a cat.", user=user
    )

    assert model_server.pending == 1, "a second pet is not a candidate: no model is asked"
    assert [f["superseded"] for f in cat["remembered"]] == [[]]
    assert await _states(services, user) == {"I have a dog": "live", "I have a cat": "live"}


async def test_after_the_model_failed_in_the_turn_the_judge_is_not_asked(
    services: Services, model_server: ModelServer, user: str
) -> None:
    await _seed(services, user, ("I live in Seattle", "fact"))
    model_server.script(Status(500), Status(500), _verdict(1))

    moved = await turn(_graph(services, model_server), PORTLAND, user=user)

    assert "llm" in moved["degraded"], "the turn was answered offline"
    assert model_server.pending == 1, "a second wait for a failing model is not made"
    assert await _states(services, user) == {
        "I live in Seattle": "live",
        "I now live in Portland": "live",
    }
