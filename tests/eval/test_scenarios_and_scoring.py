"""The scenario format refuses bad files whole, and the scores follow their definitions."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.cli import main
from agent.conversation import DEMO_DATA
from agent.eval.command import STARTER
from agent.eval.report import public_trial
from agent.eval.scenario import ScenarioFileError, Success, load_scenarios
from agent.eval.scoring import Trial, match_calls, pass_hat

GOOD = {
    "version": 1,
    "id": "ok",
    "customer": {"id": "maya_chen_4821", "turns": ["hello"]},
    "shop": {"demo": True},
    "success": {},
}


def write(tmp_path: Path, *lines: Any) -> Path:
    path = tmp_path / "s.jsonl"
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_is_reported_with_its_line_and_without_content(tmp_path: Path) -> None:
    secret = "maya.chen@example.com"
    path = write(
        tmp_path,
        GOOD,
        "{not json " + secret,
        {**GOOD, "version": 2},
        {**GOOD, "id": "two", "customer": {"id": "maya", "instructions": secret, "turns": ["x"]}},
        {**GOOD, "id": "bad id with spaces"},
        GOOD,
    )
    with pytest.raises(ScenarioFileError) as caught:
        load_scenarios(path)
    problems = caught.value.problems
    assert [p.split(": ")[0].rsplit(":", 1)[1] for p in problems] == ["2", "3", "4", "5", "6"]
    assert "not valid JSON" in problems[0]
    assert "unsupported version" in problems[1]
    assert "exactly one of customer.instructions or customer.turns" in problems[2]
    assert "id" in problems[3]
    assert "duplicate id" in problems[4]
    assert secret not in str(caught.value)


def test_the_cli_refuses_a_bad_file_before_any_model_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, {**GOOD, "success": {"handoff": "maybe"}})
    # The endpoint does not exist: a run that got as far as calling it would fail differently.
    code = main(["eval", str(path), "--model", "m", "--base-url", "http://127.0.0.1:9/v1"])
    assert code == 2
    err = capsys.readouterr().err
    assert f"{path}:1: invalid success.handoff" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--faults", "kb=0.5"], "unknown dependency"),
        (["--faults", "llm=2"], "between 0 and 1"),
        (["--faults", "llm=lots"], "needs a rate"),
        (["--prices", "/nonexistent/prices.json"], "cannot read"),
    ],
)
def test_bad_options_exit_2_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = write(tmp_path, GOOD)
    assert main(["eval", str(path), "--model", "m", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_model_is_required(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(write(tmp_path, GOOD))]) == 2
    assert "--model is required" in capsys.readouterr().err


def test_the_starter_set_applies_to_the_demo_shop() -> None:
    """Every customer and order the starter scenarios name exists in the demo shop, and the
    set covers what the issue asks for."""
    scenarios = load_scenarios(STARTER).scenarios
    customers = {
        json.loads(line)["user_id"]
        for line in (DEMO_DATA / "customers.jsonl").read_text().splitlines()
    }
    orders = {
        json.loads(line)["order_id"]
        for line in (DEMO_DATA / "orders.jsonl").read_text().splitlines()
    }
    for scenario in scenarios:
        assert scenario.customer.id in customers
        assert scenario.customer.instructions  # played by a simulated customer
        for call in scenario.success.tool_calls:
            if "order_id" in call.arguments:
                assert call.arguments["order_id"] in orders
    tags = {tag for s in scenarios for tag in s.tags}
    wanted = {"orders", "returns", "refunds", "shipping", "preferences", "corrections"}
    assert wanted | {"escalation", "near-miss"} <= tags
    assert any(s.success.handoff for s in scenarios)
    assert any("near-miss" in s.tags and not s.success.handoff for s in scenarios)


@given(st.integers(1, 12).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n))))
def test_pass_hat_falls_with_k_and_is_the_rate_at_1(trials: tuple[int, int]) -> None:
    n, c = trials
    values = [pass_hat(c, n, k) for k in range(1, n + 1)]
    assert math.isclose(values[0], c / n)
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert values[-1] == (1.0 if c == n else 0.0)


call = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["get_order", "lookup_customer", "escalate_to_human"]),
        "args": st.one_of(
            st.just({}),
            st.fixed_dictionaries({"order_id": st.sampled_from(["#W1", "W1", "#W2", "w2 "])}),
        ),
    }
)


@given(
    expected=st.lists(call, max_size=4),
    actual=st.lists(call, max_size=6),
    seed=st.randoms(use_true_random=False),
)
def test_unordered_matching_ignores_the_order_of_calls(
    expected: list[dict[str, Any]], actual: list[dict[str, Any]], seed: Any
) -> None:
    success = Success.model_validate(
        {"tool_calls": [{"name": c["name"], "arguments": c["args"]} for c in expected]}
    )
    shuffled = list(actual)
    seed.shuffle(shuffled)
    matched, scored, correct = match_calls(success, actual)
    assert (matched, scored, correct) == match_calls(success, shuffled)
    assert 0 <= matched <= min(len(expected), len(actual))
    assert 0 <= correct <= scored == len(actual)
    if actual == [{"name": c["name"], "args": c["args"]} for c in expected]:
        assert matched == len(expected)


def test_ordered_matching_needs_the_calls_in_order() -> None:
    success = Success.model_validate(
        {
            "ordered": True,
            "tool_calls": [
                {"name": "lookup_customer", "arguments": {}},
                {"name": "get_order", "arguments": {"order_id": "#W1"}},
            ],
        }
    )
    in_order = [
        {"name": "lookup_customer", "args": {}},
        {"name": "get_order", "args": {"order_id": "W1"}},
    ]
    assert match_calls(success, in_order) == (2, 2, 2)
    assert match_calls(success, in_order[::-1]) == (1, 2, 2)


def test_the_report_scrubs_personal_data_from_tool_arguments() -> None:
    email = "maya.chen@example.com"
    trial = Trial("s", 1, tool_calls=[{"name": "lookup_customer", "args": {"email": email}}])
    [call] = public_trial(trial)["tool_calls"]
    assert call == {"name": "lookup_customer", "args": {"email": "[email]"}}
    assert trial.tool_calls[0]["args"]["email"] == email  # scoring saw the real argument
