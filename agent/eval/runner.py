"""Play each scenario ``trials`` times through the real support graph and score the trials.

The graph is the one ``langgraph dev`` serves (``graphs.support.build_graph``) over the
process services, with the chat model given on the command line (any OpenAI-compatible
endpoint, through ``graphs.support.model.build_chat_model``). Each trial has its own tenant
and thread; the customer is the scenario's. A conversation ends when the customer stops,
runs out of turns, or the agent hands it to a person (the run pauses for them). Anything
that raises is recorded as the trial's error and the run goes on.

The graph is imported lazily: ``agent`` sits below ``graphs``, and only entry points reach
up to run it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from agent.eval.customer import CustomerSide, ScriptedCustomer, SimulatedCustomer
from agent.eval.faults import Faults, FlakyTransport, with_faults
from agent.eval.scenario import Scenario, ScenarioSet
from agent.eval.scoring import Trial, score
from agent.eval.shop import ShopLoader, resolve
from agent.redaction import redact_text
from tools.errors import ToolError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    base_url: str | None = None
    temperature: float = 0.0


Target = Literal["graph", "middleware"]


@dataclass(frozen=True)
class EvalOptions:
    agent: ModelSpec
    customer: ModelSpec
    trials: int = 1
    concurrency: int = 1
    seed: int = 0
    faults: dict[str, float] = field(default_factory=dict)
    escalation_policy: str = "handoff"
    target: Target = "graph"
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])


@dataclass
class EvalRun:
    trials: list[Trial]
    faults_injected: dict[str, int]


@contextlib.asynccontextmanager
async def _models(
    services: Any, options: EvalOptions, faults: Faults
) -> AsyncIterator[tuple[BaseChatModel, BaseChatModel]]:
    """The agent's and the simulated customer's chat models; only the agent's sees faults."""
    from graphs.support.model import build_chat_model

    config = services.settings.llm
    extra: dict[str, Any] = {"seed": options.seed}
    async with contextlib.AsyncExitStack() as stack:
        if faults.rates.get("llm", 0.0) > 0.0:
            client = httpx.AsyncClient(transport=FlakyTransport(faults), timeout=config.timeout_s)
            await stack.enter_async_context(client)
            extra["http_async_client"] = client

        def build(spec: ModelSpec, **more: Any) -> BaseChatModel:
            settings = config.model_copy(
                update={
                    "base_url": spec.base_url or config.base_url,
                    "temperature": spec.temperature,
                }
            )
            return build_chat_model(settings, spec.name, **more)

        yield build(options.agent, **extra), build(options.customer, seed=options.seed)


async def run_eval(
    services: Any,
    scenario_set: ScenarioSet,
    options: EvalOptions,
    on_trial: Callable[[Trial], None] | None = None,
) -> EvalRun:
    """Every (scenario, trial), ``options.concurrency`` at a time, in file order."""
    faults = Faults(dict(options.faults), seed=options.seed)
    view = with_faults(services, faults)
    loader = ShopLoader(services)
    base = scenario_set.path.parent
    for scenario in scenario_set.scenarios:
        await loader.prepare(resolve(scenario.shop, base))
    gate = asyncio.Semaphore(options.concurrency)
    async with _models(services, options, faults) as (agent_model, customer_model):
        graph = _agent_under_test(options.target, view, agent_model)

        async def one(number: int, scenario: Scenario, trial: int) -> Trial:
            async with gate:
                tenant = f"eval-{options.run_id}-{number}"
                files = resolve(scenario.shop, base)
                customer: CustomerSide = (
                    SimulatedCustomer(customer_model, scenario.customer)
                    if scenario.customer.instructions
                    else ScriptedCustomer(
                        list(scenario.customer.turns[: scenario.customer.max_turns])
                    )
                )
                result = await run_trial(
                    graph, services, scenario, trial, tenant, customer, options, loader, files
                )
            if on_trial is not None:
                on_trial(result)
            return result

        jobs = [
            (scenario, trial)
            for scenario in scenario_set.scenarios
            for trial in range(1, options.trials + 1)
        ]
        trials = await asyncio.gather(
            *(one(n, scenario, trial) for n, (scenario, trial) in enumerate(jobs, 1))
        )
    return EvalRun(list(trials), dict(faults.injected))


def _agent_under_test(target: Target, services: Any, model: BaseChatModel) -> Any:
    """Our graph, or a ``create_agent`` built with the pack's tools and middleware (the
    ``langchain`` extra), both over the same services and model."""
    if target == "middleware":
        from graphs.middleware_agent import build_agent

        return build_agent(services, model, checkpointer=InMemorySaver())
    from graphs.support import build_graph

    return build_graph(
        services=services, checkpointer=InMemorySaver(), chat_model=model, tools=services.tools
    )


async def run_trial(
    graph: Any,
    services: Any,
    scenario: Scenario,
    trial_no: int,
    tenant: str,
    customer: CustomerSide,
    options: EvalOptions,
    loader: ShopLoader,
    files: Any,
) -> Trial:
    """One conversation; its data is erased afterwards whatever happened."""
    user = scenario.customer.id
    trial = Trial(scenario.id, trial_no)
    config = {
        "configurable": {"thread_id": f"{tenant}-thread"},
        "metadata": {"tenant_id": tenant, "user_id": user},
    }
    context = {"tenant_id": tenant, "user_id": user, "escalation_policy": options.escalation_policy}
    replies: list[str] = []
    stage = "setup"
    try:
        await loader.load_customer(files, tenant, user)
        while True:
            stage = "customer"
            text = await customer.next_message(replies)
            if text is None:
                break
            trial.turns += 1
            stage = "agent"
            started = time.perf_counter()
            await graph.ainvoke({"messages": [HumanMessage(text)]}, config, context=context)
            trial.latencies_s.append(round(time.perf_counter() - started, 4))
            snapshot = await graph.aget_state(config)
            if snapshot.values.get("degraded"):
                trial.degraded_turns += 1
            if snapshot.interrupts:
                trial.handoff = True
                break
            last = snapshot.values["messages"][-1]
            replies.append(last.text if isinstance(last, AIMessage) else "")
    except Exception as exc:  # a crash is a result to report, not a reason to stop the run
        trial.error = _error(stage, exc)
    trial.customer_tokens = {
        "input": customer.usage.input_tokens,
        "output": customer.usage.output_tokens,
    }
    try:
        messages = (await graph.aget_state(config)).values.get("messages", [])
        answers = [m for m in messages if isinstance(m, AIMessage)]
        trial.tool_calls = [
            {"name": call["name"], "args": call["args"]} for m in answers for call in m.tool_calls
        ]
        for message in answers:
            usage = message.usage_metadata or {}
            trial.agent_tokens["input"] += int(usage.get("input_tokens", 0))
            trial.agent_tokens["output"] += int(usage.get("output_tokens", 0))
        tickets = await services.tickets.afor_customer(tenant, user)
        return score(trial, scenario, "\n".join(m.text for m in answers), tickets)
    finally:
        await _erase(services, tenant, user)


async def _erase(services: Any, tenant: str, user: str) -> None:
    """The trial's memories, tickets and access-log entries (its CRM copy stays)."""
    await services.memory.apurge(tenant, user)
    await services.tickets.apurge(tenant, user)
    await services.access_log.apurge(tenant, user)


def _error(stage: str, exc: Exception) -> dict[str, Any]:
    """A structured error naming where it happened; the text is scrubbed of personal data."""
    if isinstance(exc, ToolError):
        payload = exc.to_dict()
        return {**payload, "stage": stage, "message": redact_text(str(payload["message"]))}
    return {
        "code": "crashed",
        "stage": stage,
        "message": f"{type(exc).__name__} while the {stage} side was running",
        "retryable": False,
    }
