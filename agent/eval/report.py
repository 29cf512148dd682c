"""The run's report: JSON (everything, for comparing runs) and a table (for reading).

The JSON carries what is needed to reproduce the run: the scenario file's SHA-256, both
models' names, endpoints (credentials removed) and temperature, the seed, the faults and
the price table. Trials carry tool calls (arguments scrubbed of personal data) and scores,
never the conversation text.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from rich.console import Console
from rich.table import Table

from agent.eval.runner import EvalOptions, EvalRun, ModelSpec
from agent.eval.scenario import ScenarioSet
from agent.eval.scoring import Prices, Trial, pass_hat, pass_hats, summarize
from agent.redaction import redact

REPORT_FORMAT = "support-agent-eval/1"


def public_url(url: str | None) -> str | None:
    """The endpoint without user:password or a query string (which may hold a key)."""
    if not url:
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _model(spec: ModelSpec, seed: int) -> dict[str, Any]:
    return {
        "model": spec.name,
        "base_url": public_url(spec.base_url),
        "temperature": spec.temperature,
        "seed": seed,
    }


def build_report(
    scenario_set: ScenarioSet,
    options: EvalOptions,
    run: EvalRun,
    prices: Prices,
    started_at: dt.datetime,
) -> dict[str, Any]:
    by_scenario: dict[str, list[Trial]] = defaultdict(list)
    for trial in run.trials:
        by_scenario[trial.scenario_id].append(trial)
    names = {"agent_model": options.agent.name, "customer_model": options.customer.name}
    scenarios = []
    for scenario in scenario_set.scenarios:
        trials = by_scenario[scenario.id]
        passes = sum(t.passed for t in trials)
        scenarios.append(
            {
                "id": scenario.id,
                "title": scenario.title,
                "tags": scenario.tags,
                "pass_hat": {
                    str(k): round(pass_hat(passes, len(trials), k), 4)
                    for k in range(1, len(trials) + 1)
                },
                **summarize(trials, **names, prices=prices),
            }
        )
    return {
        "format": REPORT_FORMAT,
        "run": {
            "id": options.run_id,
            "started_at": started_at.isoformat(timespec="seconds"),
            "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "scenario_file": str(scenario_set.path),
            "scenario_sha256": scenario_set.sha256,
            "scenarios": len(scenario_set.scenarios),
            "trials_per_scenario": options.trials,
            "concurrency": options.concurrency,
            "seed": options.seed,
            "target": options.target,
            "agent": _model(options.agent, options.seed),
            "customer": _model(options.customer, options.seed),
            "escalation_policy": options.escalation_policy,
            "faults": options.faults,
            "faults_injected": run.faults_injected,
            "prices_usd_per_million_tokens": {k: dict(v) for k, v in prices.items()},
        },
        "overall": {
            "pass_hat": pass_hats(by_scenario),
            **summarize(run.trials, **names, prices=prices),
        },
        "scenarios": scenarios,
        "trials": [public_trial(trial) for trial in run.trials],
    }


def public_trial(trial: Trial) -> dict[str, Any]:
    """A trial for the report: tool arguments scrubbed of e-mails, card and phone numbers
    (the report is shared more widely than the CRM it was measured on)."""
    data = asdict(trial)
    data["tool_calls"] = [
        {"name": call["name"], "args": redact(call["args"])} for call in trial.tool_calls
    ]
    return data


def _fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _row(name: str, summary: Mapping[str, Any]) -> list[str]:
    hats = summary["pass_hat"]
    k = max(hats, key=int) if hats else None
    tools, handoff = summary["tool_calls"], summary["handoff"]
    tokens = summary["tokens"]["agent"]
    return [
        name,
        _fmt(hats.get("1")),
        f"{_fmt(hats.get(k))} (k={k})" if k else "-",
        f"{_fmt(tools['precision'])}/{_fmt(tools['recall'])}",
        f"{_fmt(handoff['precision'])}/{_fmt(handoff['recall'])}",
        _fmt(summary["facts_coverage"]),
        _fmt(summary["turns_mean"], 1),
        str(tokens["input"] + tokens["output"]),
        _fmt(summary["cost_usd"]["agent_per_conversation"], 4),
        f"{_fmt(summary['latency_s']['p50'])}/{_fmt(summary['latency_s']['p95'])}",
        str(summary["errors"]),
        str(summary["degraded_turns"]),
    ]


def render(report: Mapping[str, Any], console: Console) -> None:
    table = Table(title=f"support-agent eval · run {report['run']['id']}")
    for column in (
        "scenario",
        "pass^1",
        "pass^k",
        "tools P/R",
        "hand-off P/R",
        "facts",
        "turns",
        "tokens",
        "$/conv",
        "latency p50/p95 s",
        "errors",
        "degraded",
    ):
        table.add_column(column, justify="left" if column == "scenario" else "right")
    for scenario in report["scenarios"]:
        table.add_row(*_row(scenario["id"], scenario))
    table.add_section()
    table.add_row(*_row("overall", report["overall"]), style="bold")
    console.print(table)
    run = report["run"]
    console.print(
        f"agent {run['agent']['model']} · customer {run['customer']['model']} · "
        f"{run['scenarios']} scenarios × {run['trials_per_scenario']} trials · seed {run['seed']}"
        + (
            f" · faults {run['faults']} (injected {run['faults_injected']})"
            if run["faults"]
            else ""
        )
    )
