"""A whole turn as an operator sees it: redacted JSON logs and spans, correlated by run."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import structlog
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langgraph.checkpoint.memory import InMemorySaver
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import generate_latest

from agent.observability import configure_observability, export_spans
from agent.services import Services
from agent.settings import Settings, load_settings
from graphs.support import build_graph
from storage.memory.scope import Scope
from storage.metrics import REGISTRY

from .conftest import ANGRY, MAYA, MAYA_ORDER, turn

API_KEY = "sk-live-Q9zX31TelemetryKey"
EMAIL = "maya.private@example.com"
PHONE = "+44 20 7946 0958"
CARD = "4111 1111 1111 1111"
SECRETS = [API_KEY, EMAIL, PHONE, CARD, "7946 0958", "4111111111111111", API_KEY[8:]]
MESSAGE = (
    f"Where is my order {MAYA_ORDER}? Mail {EMAIL} or call {PHONE}; "
    f"card {CARD}; our key is {API_KEY}"
)


def _settings(graph_settings: Settings, **observability: Any) -> Settings:
    return load_settings(
        environment="test",
        data_dir=graph_settings.data_dir,
        llm={"model": "scripted-model", "api_key": API_KEY},
        observability={"log_format": "json", "log_level": "DEBUG", **observability},
    )


def _scripted_graph(services: Services) -> Any:
    model = GenericFakeChatModel(
        messages=iter(
            [
                AIMessage(
                    "",
                    tool_calls=[
                        {"name": "get_order", "args": {"order_id": MAYA_ORDER}, "id": "c1"}
                    ],
                    usage_metadata={"input_tokens": 120, "output_tokens": 9, "total_tokens": 129},
                    response_metadata={"finish_reason": "tool_calls", "model_name": "scripted-1"},
                ),
                AIMessage(
                    "Your order has shipped.",
                    usage_metadata={"input_tokens": 150, "output_tokens": 6, "total_tokens": 156},
                    response_metadata={"finish_reason": "stop", "model_name": "scripted-1"},
                ),
            ]
        )
    )
    graph = build_graph(
        services=services,
        checkpointer=InMemorySaver(),
        chat_model=model,
        tools=services.registry.tools,
    )
    return graph


async def test_json_debug_logs_of_a_turn_hold_no_pii_and_one_run_and_trace(
    services: Services,
    graph_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    # A process whose logging nobody configured yet: pytest's capture handlers, attached
    # for the test's call phase, are set aside here (they are restored afterwards).
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    configure_observability(_settings(graph_settings))
    capfd.readouterr()
    try:
        await turn(_scripted_graph(services), MESSAGE, user=MAYA)
    finally:
        structlog.reset_defaults()
    err = capfd.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert lines, err
    for secret in SECRETS:
        assert secret not in err
    assert {line.get("run_id") for line in lines} == {lines[0]["run_id"]}
    assert {line.get("trace_id") for line in lines} == {lines[0]["trace_id"]}
    assert len(lines[0]["trace_id"]) == 32
    finished = {line.get("node") for line in lines if line["event"] == "node finished"}
    assert {"guard", "recall", "respond", "tools"} <= finished
    [tool_line] = [line for line in lines if line["event"] == "tool finished"]
    assert tool_line["tool"] == "get_order"
    assert tool_line["outcome"] == "ok"
    [turn_line] = [line for line in lines if line["event"] == "turn finished"]
    assert turn_line["level"] == "info"
    assert turn_line["user"] not in (None, MAYA)
    assert turn_line["tenant"] == "default"
    assert turn_line["thread_id"]


async def test_spans_of_a_turn_cover_nodes_tools_dependencies_and_the_model(
    services: Services, graph_settings: Settings
) -> None:
    configure_observability(_settings(graph_settings))
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider)
    exporter = InMemorySpanExporter()
    export_spans(provider, exporter)
    await turn(_scripted_graph(services), MESSAGE, user=MAYA)
    provider.force_flush()
    spans = exporter.get_finished_spans()
    [root] = [span for span in spans if span.name == "turn"]
    mine = [span for span in spans if span.context.trace_id == root.context.trace_id]
    names = [span.name for span in mine]
    for node in ("guard", "recall", "triage", "respond", "tools", "remember"):
        assert f"node {node}" in names
    assert "tool get_order" in names
    assert any(name.startswith("crm") for name in names), names
    models = [span for span in mine if span.attributes.get("gen_ai.operation.name") == "chat"]
    assert len(models) == 2
    first = models[0].attributes
    assert first["gen_ai.usage.input_tokens"] == 120
    assert first["gen_ai.usage.output_tokens"] == 9
    assert list(first["gen_ai.response.finish_reasons"]) == ["tool_calls"]
    assert first["gen_ai.response.model"] == "scripted-1"
    dumped = json.dumps(
        [
            {
                "attributes": dict(span.attributes or {}),
                "events": [dict(event.attributes or {}) for event in span.events],
                "status": span.status.description,
            }
            for span in spans
        ],
        default=str,
    )
    for secret in SECRETS:
        assert secret not in dumped
    text = generate_latest(REGISTRY).decode()
    assert 'support_turn_seconds_count{outcome="answered"}' in text
    assert 'support_tool_seconds_count{outcome="ok",tool="get_order"}' in text
    assert 'support_model_tokens_total{model="' in text


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _total(name: str) -> float:
    return sum(
        sample.value
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name == name
    )


async def test_product_counters_move_with_what_happened(services: Services, user: str) -> None:
    """Escalations by reason, dedup tiers, purged memories and cache hits are counted."""
    escalations = _total("support_escalations_total")
    graph = build_graph(services=services, checkpointer=InMemorySaver())
    await turn(graph, ANGRY, user=user)
    assert _total("support_escalations_total") == escalations + 1

    scope = Scope(services.settings.tenant_id, user)
    new, exact = (
        _value("support_memory_remember_total", tier="new"),
        _value("support_memory_remember_total", tier="exact"),
    )
    await services.memory.aremember(scope, "Prefers parcels left with the neighbour.")
    await services.memory.aremember(scope, "Prefers parcels left with the neighbour.")
    assert _value("support_memory_remember_total", tier="new") == new + 1
    assert _value("support_memory_remember_total", tier="exact") == exact + 1

    purged = _value("support_memories_removed_total", how="purged")
    await services.memory.apurge(scope.tenant_id, scope.user_id)
    assert _value("support_memories_removed_total", how="purged") >= purged + 1

    cache = services.knowledge_base.cache
    assert cache is not None
    hits = _value("support_cache_operations_total", cache=cache.name, result="hits")
    question = f"How long do refunds take? {user}"
    await services.knowledge_base.asearch(question)
    await services.knowledge_base.asearch(question)
    assert _value("support_cache_operations_total", cache=cache.name, result="hits") == hits + 1
