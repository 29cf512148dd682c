"""``support-agent eval`` end to end: the CLI, the real graph on the demo shop, and two
scripted OpenAI-compatible servers, one playing the agent's model and one the simulated
customer. Every scenario's outcome is known, so the reported scores are checked exactly."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from tests.openai_server import ModelServer, Status, Text, ToolCalls, serve_model

SOLVED = "Order #W1000101 is processed; tracking number 512204471830."
REFUND = "Refunds to a credit card take 5-10 business days."


def scenario(sid: str, customer: dict[str, Any], success: dict[str, Any]) -> dict[str, Any]:
    return {
        "version": 1,
        "id": sid,
        "customer": {"id": "maya_chen_4821", **customer},
        "shop": {"demo": True},
        "success": success,
    }


SCENARIOS = [
    scenario(
        "solved",
        {"turns": ["Where is my order #W1000101?"]},
        {
            "tool_calls": [{"name": "get_order", "arguments": {"order_id": "#W1000101"}}],
            "must_state": ["processed", "512204471830"],
        },
    ),
    scenario(
        "wrong-argument",
        {"turns": ["Where is my order #W1000101?"]},
        {"tool_calls": [{"name": "get_order", "arguments": {"order_id": "W1000101"}}]},
    ),
    scenario(
        "missed-handoff",
        {"instructions": "You were charged twice and want a person from billing to fix it."},
        {"handoff": True},
    ),
    scenario(
        "needless-handoff",
        {"turns": ["Where is my order #W1000102?"]},
        {"handoff": False},
    ),
    {
        **scenario(
            "angry-handoff",
            {"turns": ["This is ridiculous!! I want to talk to a real person NOW."]},
            {"handoff": True, "final_state": {"tickets": 1}},
        ),
        "customer": {
            "id": "omar_haddad_3307",
            "turns": ["This is ridiculous!! I want to talk to a real person NOW."],
        },
    },
    scenario("crash", {"instructions": "Ask anything."}, {}),
    scenario(
        "flaky",
        {"turns": ["How long does a refund take on my credit card?"]},
        {"must_state": [["5-10 business days", "5 to 10 business days"]]},
    ),
]
TRIALS = 3


def agent_script() -> list[Any]:
    """The agent model's replies in the order the trials ask (scenario by scenario)."""
    per_trial = {
        "solved": [[ToolCalls([("get_order", {"order_id": "#W1000101"})]), Text(SOLVED)]] * 3,
        # The model names the order of the same customer, but not the one asked about.
        "wrong-argument": [
            [ToolCalls([("get_order", {"order_id": "#W1000102"})]), Text("Delivered.")]
        ]
        * 3,
        "missed-handoff": [[Text("Refunds take a few days, nothing else to do.")]] * 3,
        "needless-handoff": [
            [
                ToolCalls([("escalate_to_human", {"reason": "other", "summary": "Order status."})]),
                Text("A colleague will get back to you."),
            ]
        ]
        * 3,
        "angry-handoff": [[]] * 3,  # the detector hands off before any model call
        "crash": [[]] * 3,
        "flaky": [[Text(REFUND)], [Text("I am not sure, sorry.")], [Text(REFUND)]],
    }
    return [reply for s in SCENARIOS for trial in per_trial[s["id"]] for reply in trial]


def customer_script() -> list[Any]:
    replies: list[Any] = []
    for s in SCENARIOS:
        if s["id"] == "missed-handoff":
            replies += [Text("I was charged twice for order #W1000201."), Text("###STOP###")] * 3
        elif s["id"] == "crash":
            replies += [Status(500, "customer model down")] * 3
    return replies


@pytest.fixture
def embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "200")  # the table's width, as in a wide terminal
    return tmp_path


def write_lines(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


def run_eval(
    tmp: Path,
    agent: ModelServer,
    customer: ModelServer,
    *extra: str,
    scenarios: list[dict[str, Any]] = SCENARIOS,
    trials: int = TRIALS,
) -> tuple[int, dict[str, Any]]:
    path = write_lines(tmp / "scenarios.jsonl", scenarios)
    prices = tmp / "prices.json"
    prices.write_text(json.dumps({"scripted": {"input": 1.0, "output": 2.0}}), encoding="utf-8")
    report = tmp / "report.json"
    code = main(
        [
            "eval",
            str(path),
            "--model",
            "scripted",
            "--base-url",
            agent.base_url,
            "--customer-model",
            "scripted-customer",
            "--customer-base-url",
            customer.base_url,
            "--trials",
            str(trials),
            "--prices",
            str(prices),
            "--seed",
            "7",
            "--output",
            str(report),
            *extra,
        ]
    )
    return code, json.loads(report.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_reported_scores_match_the_known_outcomes(
    embedded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with serve_model(*agent_script()) as agent, serve_model(*customer_script()) as customer:
        code, report = run_eval(embedded, agent, customer)
        assert agent.pending == 0
        assert customer.pending == 0
        agent_requests, customer_requests = agent.requests, customer.requests
    assert code == 0
    by_id = {s["id"]: s for s in report["scenarios"]}
    assert {k: by_id[k]["passed"] for k in by_id} == {
        "solved": 3,
        "wrong-argument": 0,
        "missed-handoff": 0,
        "needless-handoff": 0,
        "angry-handoff": 3,
        "crash": 0,
        "flaky": 2,
    }
    assert by_id["flaky"]["pass_hat"] == {"1": 0.6667, "2": 0.3333, "3": 0.0}
    assert by_id["wrong-argument"]["failures"] == {"tool_calls": 3}
    assert by_id["missed-handoff"]["failures"] == {"missed_handoff": 3}
    assert by_id["needless-handoff"]["failures"] == {"needless_handoff": 3}
    assert by_id["crash"]["errors"] == 3
    assert by_id["flaky"]["failures"] == {"facts": 1}
    overall = report["overall"]
    # pass^k over 7 scenarios: solved and angry-handoff always, flaky 2 of 3.
    assert overall["pass_hat"] == {"1": 0.381, "2": 0.3333, "3": 0.2857}
    # Scored calls: 3 right get_order, 3 wrong get_order, 3 needless escalate_to_human.
    assert overall["tool_calls"] == {"precision": 0.3333, "recall": 0.5}
    assert overall["handoff"] == {"precision": 0.5, "recall": 0.5, "observed": 6, "expected": 6}
    # Facts: solved states both of its 2 in every trial, flaky its 1 in two trials of three.
    assert overall["facts_coverage"] == round(8 / 9, 4)
    assert overall["errors"] == 3
    # Every model reply kept in a conversation carries the server's 10 + 5 tokens.
    replies_kept = 6 + 6 + 3 + 6 + 3
    assert overall["tokens"]["agent"] == {"input": 10 * replies_kept, "output": 5 * replies_kept}
    assert overall["tokens"]["customer"] == {"input": 60, "output": 30}
    assert overall["cost_usd"]["agent_total"] == pytest.approx(
        (10 * replies_kept * 1.0 + 5 * replies_kept * 2.0) / 1e6
    )
    assert overall["latency_s"]["p50"] is not None
    assert overall["latency_s"]["p95"] >= overall["latency_s"]["p50"]
    crash = next(t for t in report["trials"] if t["scenario_id"] == "crash")
    assert crash["error"]["code"] == "crashed"
    assert crash["error"]["stage"] == "customer"
    run = report["run"]
    scenario_bytes = (embedded / "scenarios.jsonl").read_bytes()
    assert run["scenario_sha256"] == hashlib.sha256(scenario_bytes).hexdigest()
    assert run["agent"] == {
        "model": "scripted",
        "base_url": agent.base_url,
        "temperature": 0.0,
        "seed": 7,
    }
    # The agent model really saw the tool pack and the customer's words; the simulated
    # customer really got the scenario's instructions, with the roles swapped.
    assert all(r.body["model"] == "scripted" and r.body.get("seed") == 7 for r in agent_requests)
    assert {t["function"]["name"] for t in agent_requests[0].body["tools"]} >= {
        "get_order",
        "escalate_to_human",
    }
    assert "Where is my order #W1000101?" in json.dumps(agent_requests[0].messages)
    first_customer = customer_requests[0].messages
    assert "charged twice and want a person" in first_customer[0]["content"]
    assert first_customer[1]["role"] == "user"
    table = capsys.readouterr().out
    assert "pass^1" in table
    assert "needless-handoff" in table
    assert "0.38" in table


@pytest.mark.slow
def test_a_create_agent_with_our_middleware_is_measured_the_same_way(embedded: Path) -> None:
    """``--agent middleware``: the same scenarios and scores, on a ``create_agent`` built with
    the pack's tools and middleware instead of our graph."""
    script = [
        ToolCalls([("get_order", {"order_id": "#W1000101"})]),
        Text(SOLVED),
        ToolCalls([("get_order", {"order_id": "#W1000102"})]),
        Text("Delivered."),
    ]
    with serve_model(*script) as agent, serve_model() as customer:
        code, report = run_eval(
            embedded, agent, customer, "--agent", "middleware", scenarios=SCENARIOS[:2], trials=1
        )
    assert code == 0
    assert report["run"]["target"] == "middleware"
    solved, wrong = report["scenarios"]
    assert solved["pass_hat"] == {"1": 1.0}
    assert wrong["pass_hat"] == {"1": 0.0}
    assert report["overall"]["tool_calls"]["recall"] == 0.5


@pytest.mark.slow
def test_model_faults_go_through_the_resilience_layer(embedded: Path) -> None:
    """Every connection to the model refused: the llm guard gives up, the graph answers
    offline (a degraded turn), the expected tool call is never made, and the report says
    how many faults were injected and what pass^k was under them."""
    with serve_model(default=Text(SOLVED)) as agent, serve_model() as customer:
        code, report = run_eval(
            embedded, agent, customer, "--faults", "llm=1.0", scenarios=SCENARIOS[:1], trials=2
        )
        assert agent.requests == []
    assert code == 0
    overall = report["overall"]
    assert overall["pass_hat"] == {"1": 0.0, "2": 0.0}
    assert overall["failures"] == {"tool_calls": 2}
    assert overall["degraded_turns"] == 2
    assert overall["errors"] == 0
    assert report["run"]["faults"] == {"llm": 1.0}
    assert report["run"]["faults_injected"]["llm"] >= 2
    # The offline answer still states the order's facts from the CRM.
    assert overall["facts_coverage"] == 1.0


@pytest.mark.slow
def test_crm_faults_trip_the_breaker_as_in_production(
    embedded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CRM that always fails, with a breaker that opens after two failed calls. First
    trial: the turn's order lookup degrades and the model's ``get_order`` call gets a
    structured, retryable error back: two failed calls. The breaker is now open, so in the
    second trial the graph hands the customer to a person (a critical dependency is down)
    without asking the model: a needless hand-off that only shows up under faults."""
    policy = {"crm": {"fail_max": 2, "max_attempts": 1}}
    monkeypatch.setenv("SUPPORT_RESILIENCE__DEPENDENCIES", json.dumps(policy))
    turn = [ToolCalls([("get_order", {"order_id": "#W1000101"})]), Text(SOLVED)]
    with serve_model(*turn) as agent, serve_model() as customer:
        code, report = run_eval(
            embedded, agent, customer, "--faults", "crm=1.0", scenarios=SCENARIOS[:1], trials=2
        )
        tool_results = [
            json.loads(m["content"])
            for r in agent.requests
            for m in r.messages
            if m["role"] == "tool"
        ]
    assert code == 0
    [result] = tool_results
    assert result["error"]["dependency"] == "crm"
    assert result["error"]["retryable"] is True
    first, second = report["trials"]
    assert first["degraded_turns"] == 1
    assert first["handoff"] is False
    assert second["handoff"] is True
    assert second["failures"] == ["tool_calls", "needless_handoff", "facts"]
    assert report["run"]["faults_injected"] == {"crm": 2}
    assert report["overall"]["pass_hat"] == {"1": 0.5, "2": 0.0}


@pytest.mark.slow
@pytest.mark.postgres
def test_concurrent_trials_run_on_postgres(
    embedded: Path, monkeypatch: pytest.MonkeyPatch, own_postgres_url: str
) -> None:
    """Four trials of the same customer's hand-off at once, on a migrated PostgreSQL: each
    completes, pauses for a person and finds its one ticket (``final_state.tickets == 1``)."""
    monkeypatch.setenv("DATABASE_URL", own_postgres_url)
    assert main(["migrate"]) == 0
    angry = [s for s in SCENARIOS if s["id"] == "angry-handoff"]
    with serve_model() as agent, serve_model() as customer:
        code, report = run_eval(
            embedded, agent, customer, "--concurrency", "4", scenarios=angry, trials=4
        )
        assert agent.requests == []
    assert code == 0
    assert report["overall"]["passed"] == 4
    assert report["overall"]["pass_hat"]["4"] == 1.0
    assert report["run"]["concurrency"] == 4
