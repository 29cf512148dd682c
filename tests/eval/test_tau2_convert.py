"""tau2-bench retail tasks converted onto the CRM fixture, then run through the harness.

The tasks are written here in tau2-bench's format (the fixture holds its database, not its
tasks); the customers and orders they name are real rows of ``tau2_retail``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.eval.scenario import load_scenarios
from tests.openai_server import Text, ToolCalls, serve_model

NOAH = {"first_name": "Noah", "last_name": "Brown", "zip": "80279"}


def task(task_id: str, actions: list[dict[str, Any]], info: list[str]) -> dict[str, Any]:
    return {
        "id": task_id,
        "description": {"purpose": f"task {task_id}", "relevant_policies": None, "notes": None},
        "user_scenario": {
            "persona": None,
            "instructions": {
                "domain": "retail",
                "reason_for_call": "You want to know the status of your order #W7678072.",
                "known_info": "You are Noah Brown.\nYour zip code is 80279.",
                "unknown_info": "You do not remember your email address.",
                "task_instructions": "If the agent asks, confirm your name and zip code.",
            },
        },
        "initial_state": None,
        "evaluation_criteria": {
            "actions": [
                {"action_id": f"{task_id}_{n}", "name": a["name"], "arguments": a["arguments"]}
                for n, a in enumerate(actions)
            ],
            "communicate_info": info,
            "nl_assertions": None,
        },
    }


TASKS = [
    task(
        "0",
        [
            {"name": "find_user_id_by_name_zip", "arguments": NOAH},
            {"name": "get_order_details", "arguments": {"order_id": "#W7678072"}},
            {"name": "get_product_details", "arguments": {"product_id": "1075968781"}},
        ],
        ["delivered"],
    ),
    task(
        "1",
        [
            {"name": "find_user_id_by_email", "arguments": {"email": "noah.brown7922@example.com"}},
            {"name": "get_order_details", "arguments": {"order_id": "#W7678072"}},
            {
                "name": "return_delivered_order_items",
                "arguments": {"order_id": "#W7678072", "item_ids": ["2323972008"]},
            },
        ],
        [],
    ),
    task(
        "2", [{"name": "find_user_id_by_email", "arguments": {"email": "nobody@example.com"}}], []
    ),
]


@pytest.fixture
def converted(
    fixtures_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> list[dict[str, Any]]:
    tasks = tmp_path / "tasks.json"
    tasks.write_text(json.dumps(TASKS), encoding="utf-8")
    out = tmp_path / "tau2.jsonl"
    code = main(
        [
            "eval-tau2",
            str(tasks),
            "--fixtures",
            str(fixtures_dir / "tau2_retail"),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    assert "2 scenarios written" in capsys.readouterr().out
    assert len(load_scenarios(out).scenarios) == 2
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_reads_become_tool_calls_and_writes_a_handoff(
    converted: list[dict[str, Any]], fixtures_dir: Path
) -> None:
    lookup, returns = converted
    assert lookup["id"] == "tau2-retail-0"
    assert lookup["customer"]["id"] == "noah_brown_6181"
    assert lookup["customer"]["known_facts"] == ["You are Noah Brown.", "Your zip code is 80279."]
    assert "status of your order #W7678072" in lookup["customer"]["instructions"]
    assert lookup["success"] == {
        "tool_calls": [
            {"name": "lookup_customer", "arguments": NOAH},
            {"name": "get_order", "arguments": {"order_id": "#W7678072"}},
        ],
        "must_state": ["delivered"],
        "handoff": False,
    }
    assert returns["success"]["handoff"] is True
    assert returns["success"]["tool_calls"][0] == {
        "name": "lookup_customer",
        "arguments": {"email": "noah.brown7922@example.com"},
    }
    # The fixture is referenced where it is, never copied.
    assert lookup["shop"]["orders"] == str(
        (fixtures_dir / "tau2_retail" / "orders.jsonl").resolve()
    )


def test_a_converted_task_runs_on_the_fixture_crm(
    converted: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SUPPORT_DATA_DIR", str(tmp_path / "data"))
    scenarios = tmp_path / "one.jsonl"
    scenarios.write_text(json.dumps(converted[0]) + "\n", encoding="utf-8")
    agent_turn = [
        ToolCalls([("lookup_customer", NOAH)]),
        ToolCalls([("get_order", {"order_id": "#W7678072"})]),
        Text("Your order #W7678072 has been delivered."),
    ]
    customer_turns = [Text("Hi, what is the status of my order #W7678072?"), Text("###STOP###")]
    with serve_model(*agent_turn) as agent, serve_model(*customer_turns) as customer:
        report_path = tmp_path / "report.json"
        code = main(
            [
                "eval",
                str(scenarios),
                "--model",
                "scripted",
                "--base-url",
                agent.base_url,
                "--customer-base-url",
                customer.base_url,
                "--output",
                str(report_path),
            ]
        )
        tool_results = [
            json.loads(m["content"])
            for r in agent.requests
            for m in r.messages
            if m["role"] == "tool"
        ]
    assert code == 0
    # The trial's tenant got Noah's records from the fixture: the tools found them.
    assert tool_results[-1]["order"]["status"] == "delivered"
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert report["overall"]["pass_hat"] == {"1": 1.0}
    assert report["overall"]["tool_calls"] == {"precision": 1.0, "recall": 1.0}
