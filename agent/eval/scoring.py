"""Scores: one trial against its scenario's success criteria, then the whole run.

pass^k is tau2-bench's: for a scenario with ``n`` trials of which ``c`` passed, the chance
that ``k`` trials drawn from them all pass, ``C(c, k) / C(n, k)``, averaged over scenarios.
pass^1 is the plain success rate; pass^k falling as k grows is an agent that is lucky, not
reliable. Tool-call and hand-off precision/recall are summed over all trials (micro).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agent.eval.scenario import Scenario, Success, ToolCall


@dataclass
class Trial:
    """What happened in one conversation, and how it scored."""

    scenario_id: str
    trial: int
    passed: bool = False
    error: dict[str, Any] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    expected_calls: int = 0
    matched_calls: int = 0
    scored_calls: int = 0
    correct_calls: int = 0
    handoff_expected: bool = False
    handoff: bool = False
    facts_expected: int = 0
    facts_stated: int = 0
    missing_facts: list[str] = field(default_factory=list)
    final_state_ok: bool | None = None
    failures: list[str] = field(default_factory=list)
    turns: int = 0
    latencies_s: list[float] = field(default_factory=list)
    degraded_turns: int = 0
    agent_tokens: dict[str, int] = field(default_factory=lambda: {"input": 0, "output": 0})
    customer_tokens: dict[str, int] = field(default_factory=lambda: {"input": 0, "output": 0})


def normalize(value: Any) -> Any:
    """Arguments compare loosely where models differ harmlessly: strings ignore case,
    surrounding spaces and a leading ``#`` (order ids); lists ignore order."""
    if isinstance(value, str):
        return value.strip().casefold().removeprefix("#")
    if isinstance(value, Mapping):
        return {str(k): normalize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return sorted((normalize(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    return value


def call_matches(expected: ToolCall, actual: Mapping[str, Any]) -> bool:
    if actual.get("name") != expected.name:
        return False
    arguments = actual.get("args") or {}
    return all(
        key in arguments and normalize(arguments[key]) == normalize(value)
        for key, value in expected.arguments.items()
    )


def match_calls(success: Success, actual: Sequence[Mapping[str, Any]]) -> tuple[int, int, int]:
    """(expected calls matched, calls scored, calls scored that match some expected call).

    Each expected call needs a call of its own: the most that can be paired (a maximum
    bipartite matching, or the longest common subsequence when ``ordered``). A call that
    matches an expected one is correct even if repeated (a retry is not a wrong call)."""
    scored = [call for call in actual if call.get("name") not in success.ignore_tools]
    expected = success.tool_calls
    fits = [[call_matches(e, call) for call in scored] for e in expected]
    matched = _in_order(fits) if success.ordered else _pairs(fits)
    correct = sum(any(row[index] for row in fits) for index in range(len(scored)))
    return matched, len(scored), correct


def _pairs(fits: list[list[bool]]) -> int:
    """Maximum matching of expected to actual calls (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}

    def place(row: int, seen: set[int]) -> bool:
        for column, fit in enumerate(fits[row]):
            if fit and column not in seen:
                seen.add(column)
                if column not in owner or place(owner[column], seen):
                    owner[column] = row
                    return True
        return False

    return sum(place(row, set()) for row in range(len(fits)))


def _in_order(fits: list[list[bool]]) -> int:
    """Longest run of expected calls found in order among the actual ones."""
    columns = len(fits[0]) if fits else 0
    best = [0] * (columns + 1)
    for row in fits:
        previous = best[:]
        for column in range(1, columns + 1):
            best[column] = max(
                previous[column],
                best[column - 1],
                previous[column - 1] + 1 if row[column - 1] else 0,
            )
    return best[columns]


def score(trial: Trial, scenario: Scenario, replies: str, tickets: Sequence[Any]) -> Trial:
    """Fill in the checks of ``trial`` from the agent's ``replies`` and the customer's
    ``tickets`` after the conversation; ``passed`` only when every check holds."""
    success = scenario.success
    trial.expected_calls = len(success.tool_calls)
    trial.matched_calls, trial.scored_calls, trial.correct_calls = match_calls(
        success, trial.tool_calls
    )
    trial.handoff_expected = success.handoff
    trial.handoff = trial.handoff or bool(tickets)
    said = replies.casefold()
    trial.facts_expected = len(success.must_state)
    trial.missing_facts = [
        alternatives[0]
        for alternatives in success.must_state
        if not any(alt.casefold() in said for alt in alternatives)
    ]
    trial.facts_stated = trial.facts_expected - len(trial.missing_facts)
    if success.final_state is not None:
        wanted = success.final_state
        trial.final_state_ok = (wanted.tickets is None or len(tickets) == wanted.tickets) and (
            wanted.ticket_reason is None or any(t.reason == wanted.ticket_reason for t in tickets)
        )
    failures = []
    if trial.error is not None:
        failures.append("error")
    if trial.matched_calls < trial.expected_calls:
        failures.append("tool_calls")
    if trial.handoff != trial.handoff_expected:
        failures.append("needless_handoff" if trial.handoff else "missed_handoff")
    if trial.missing_facts:
        failures.append("facts")
    if trial.final_state_ok is False:
        failures.append("final_state")
    trial.failures = failures
    trial.passed = not failures
    return trial


def pass_hat(passes: int, trials: int, k: int) -> float:
    """tau2-bench's pass^k for one scenario: C(c, k) / C(n, k)."""
    return math.comb(passes, k) / math.comb(trials, k)


def _ratio(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _percentile(values: Sequence[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 4) if values else None


Prices = Mapping[str, Mapping[str, float]]


def cost(tokens: Mapping[str, int], model: str, prices: Prices) -> float | None:
    """USD for ``tokens`` at ``prices[model]`` (per million input/output tokens)."""
    price = prices.get(model)
    if price is None:
        return None
    return (
        tokens["input"] * price.get("input", 0.0) + tokens["output"] * price.get("output", 0.0)
    ) / 1e6


def summarize(
    trials: Sequence[Trial], *, agent_model: str, customer_model: str, prices: Prices
) -> dict[str, Any]:
    """The numbers of a set of trials (one scenario's, or the whole run's)."""
    latencies = [s for t in trials for s in t.latencies_s]
    agent = {key: sum(t.agent_tokens[key] for t in trials) for key in ("input", "output")}
    customer = {key: sum(t.customer_tokens[key] for t in trials) for key in ("input", "output")}
    agent_cost = cost(agent, agent_model, prices)
    customer_cost = cost(customer, customer_model, prices)
    handoffs = [t for t in trials if t.handoff]
    expected = [t for t in trials if t.handoff_expected]
    true_handoffs = sum(t.handoff and t.handoff_expected for t in trials)
    n = len(trials) or 1
    return {
        "trials": len(trials),
        "passed": sum(t.passed for t in trials),
        "tool_calls": {
            "precision": _ratio(
                sum(t.correct_calls for t in trials), sum(t.scored_calls for t in trials)
            ),
            "recall": _ratio(
                sum(t.matched_calls for t in trials), sum(t.expected_calls for t in trials)
            ),
        },
        "handoff": {
            "precision": _ratio(true_handoffs, len(handoffs)),
            "recall": _ratio(true_handoffs, len(expected)),
            "observed": len(handoffs),
            "expected": len(expected),
        },
        "facts_coverage": _ratio(
            sum(t.facts_stated for t in trials), sum(t.facts_expected for t in trials)
        ),
        "turns_mean": round(sum(t.turns for t in trials) / n, 2),
        "tokens": {"agent": agent, "customer": customer},
        "cost_usd": {
            "agent_total": agent_cost,
            "agent_per_conversation": None if agent_cost is None else agent_cost / n,
            "customer_total": customer_cost,
        },
        "latency_s": {"p50": _percentile(latencies, 50), "p95": _percentile(latencies, 95)},
        "errors": sum(t.error is not None for t in trials),
        "degraded_turns": sum(t.degraded_turns for t in trials),
        "failures": dict(sorted(Counter(f for t in trials for f in t.failures).items())),
    }


def pass_hats(by_scenario: Mapping[str, Sequence[Trial]]) -> dict[str, float]:
    """pass^1 … pass^k averaged over scenarios, k up to the fewest trials any scenario had."""
    if not by_scenario:
        return {}
    k_max = min(len(trials) for trials in by_scenario.values())
    return {
        str(k): round(
            sum(
                pass_hat(sum(t.passed for t in trials), len(trials), k)
                for trials in by_scenario.values()
            )
            / len(by_scenario),
            4,
        )
        for k in range(1, k_max + 1)
    }
