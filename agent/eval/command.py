"""``support-agent eval`` and ``support-agent eval-tau2``: the harness's command line."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.eval import tau2
from agent.eval.faults import FaultSpecError, parse_faults
from agent.eval.report import build_report, render
from agent.eval.runner import EvalOptions, ModelSpec, run_eval
from agent.eval.scenario import ScenarioFileError, ScenarioSet, load_scenarios
from agent.settings import Settings

Command = Callable[[Settings, argparse.Namespace], int]
STARTER = Path(__file__).resolve().parent / "scenarios" / "demo_shop.jsonl"


class Price(BaseModel):
    """USD per million tokens."""

    model_config = ConfigDict(extra="forbid")
    input: float = Field(ge=0)
    output: float = Field(ge=0)


_PRICES = TypeAdapter(dict[str, Price])


class UsageError(ValueError):
    """Bad command-line input: reported and exit status 2, before any model call."""


def _prices(path: str | None) -> dict[str, dict[str, float]]:
    if path is None:
        return {}
    try:
        table = _PRICES.validate_json(Path(path).read_bytes())
    except OSError as exc:
        raise UsageError(f"--prices: cannot read the file ({type(exc).__name__})") from None
    except ValidationError as exc:
        where = sorted({".".join(str(p) for p in e["loc"]) or "(file)" for e in exc.errors()})
        raise UsageError(f"--prices: invalid {', '.join(where)}") from None
    return {name: price.model_dump() for name, price in table.items()}


def _options(settings: Settings, args: argparse.Namespace) -> EvalOptions:
    model = args.model or settings.llm.model
    if not model:
        raise UsageError("--model is required (or set SUPPORT_LLM__MODEL)")
    try:
        faults = parse_faults(args.faults or "")
    except FaultSpecError as exc:
        raise UsageError(str(exc)) from None
    base_url = args.base_url or settings.llm.base_url
    temperature = settings.llm.temperature if args.temperature is None else args.temperature
    return EvalOptions(
        agent=ModelSpec(model, base_url, temperature),
        customer=ModelSpec(
            args.customer_model or model, args.customer_base_url or base_url, temperature
        ),
        trials=args.trials,
        concurrency=args.concurrency,
        seed=args.seed,
        faults=faults,
        escalation_policy=args.escalation_policy,
        target=args.agent,
    )


async def _run(
    settings: Settings, scenarios: ScenarioSet, options: EvalOptions, prices: Any
) -> dict[str, Any]:
    from agent.services import Services

    started = dt.datetime.now(dt.UTC)
    total = len(scenarios.scenarios) * options.trials
    progress = Progress(
        TextColumn("eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("passed {task.fields[passed]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with progress:
        task = progress.add_task("trials", total=total, passed=0)
        passed = 0

        def advance(trial: Any) -> None:
            nonlocal passed
            passed += trial.passed
            progress.update(task, advance=1, passed=passed)

        async with await Services.open(settings) as services:
            run = await run_eval(services, scenarios, options, on_trial=advance)
    return build_report(scenarios, options, run, prices, started)


def _eval(settings: Settings, args: argparse.Namespace) -> int:
    try:
        path = STARTER if args.scenarios == "demo" else Path(args.scenarios)
        scenarios = load_scenarios(path)
        options = _options(settings, args)
        prices = _prices(args.prices)
    except (ScenarioFileError, UsageError) as exc:
        print(f"support-agent eval: {exc}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(_run(settings, scenarios, options, prices))
    except Exception as exc:  # services that cannot start: say why, without secrets
        from agent.redaction import redact_text

        print(f"support-agent eval: cannot run: {redact_text(str(exc))}", file=sys.stderr)
        return 1
    render(report, Console())
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if args.min_pass is not None and report["overall"]["pass_hat"].get("1", 0.0) < args.min_pass:
        print(f"support-agent eval: pass^1 below --min-pass {args.min_pass}", file=sys.stderr)
        return 1
    return 0


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _convert(_settings: Settings, args: argparse.Namespace) -> int:
    try:
        converted = tau2.convert_file(Path(args.tasks), Path(args.fixtures))
    except tau2.Tau2Error as exc:
        print(f"support-agent eval-tau2: {exc}", file=sys.stderr)
        return 2
    lines = [json.dumps(s, ensure_ascii=False) for s in converted.scenarios]
    Path(args.output).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(
        f"{len(converted.scenarios)} scenarios written to {args.output}; "
        f"{converted.skipped} tasks skipped (customer not in the fixture)"
    )
    return 0


def register(sub: argparse._SubParsersAction, commands: dict[str, Command]) -> None:
    parser = sub.add_parser(
        "eval", help="measure the agent with a real model on support scenarios (pass^k)"
    )
    parser.add_argument("scenarios", help="scenario file (JSONL), or 'demo' for the starter set")
    parser.add_argument("--model", help="the agent's chat model (default: SUPPORT_LLM__MODEL)")
    parser.add_argument("--base-url", help="OpenAI-compatible endpoint (vLLM, Ollama, ...)")
    parser.add_argument("--customer-model", help="simulated customer's model (default: --model)")
    parser.add_argument("--customer-base-url", help="its endpoint (default: --base-url)")
    parser.add_argument("--temperature", type=float, help="sampling temperature of both models")
    parser.add_argument("--trials", type=_positive, default=1, help="runs per scenario (k)")
    parser.add_argument("--concurrency", type=_positive, default=1, help="trials at a time")
    parser.add_argument("--seed", type=int, default=0, help="models' and faults' seed")
    parser.add_argument("--faults", help="failure rates, e.g. llm=0.2,crm=0.1")
    parser.add_argument("--prices", help='JSON price table: {"model": {"input": USD/Mtok, ...}}')
    parser.add_argument(
        "--escalation-policy", choices=["handoff", "ticket_only"], default="handoff"
    )
    parser.add_argument(
        "--agent",
        choices=["graph", "middleware"],
        default="graph",
        help="what to evaluate: our graph, or a create_agent with the pack's tools and "
        "middleware (graphs/middleware_agent.py; needs the langchain extra)",
    )
    parser.add_argument("--output", help="write the JSON report here")
    parser.add_argument("--min-pass", type=float, help="exit 1 when pass^1 is below this")
    commands["eval"] = _eval

    convert = sub.add_parser(
        "eval-tau2", help="convert tau2-bench retail tasks into scenarios on its CRM fixture"
    )
    convert.add_argument("tasks", help="tau2-bench retail tasks.json")
    convert.add_argument("--fixtures", required=True, help="folder with users/orders.jsonl")
    convert.add_argument("--output", required=True, help="scenario file to write")
    commands["eval-tau2"] = _convert
