"""What operators see: one span per guarded call and counters per dependency."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from tools.errors import CircuitOpenError, DependencyError
from tools.resilience import REGISTRY, Resilience
from tools.resilience import guard as guard_module


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    """A real SDK tracer for the guard (the global provider is the application's to set)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(guard_module, "tracer", provider.get_tracer("test"))
    yield exporter
    provider.shutdown()


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_one_span_per_call_with_its_outcome(
    spans: InMemorySpanExporter, make_resilience: Callable[..., Resilience]
) -> None:
    resilience = make_resilience(max_attempts=2)
    resilience.guard("crm", operation="lookup")(lambda: "ok")()
    with pytest.raises(DependencyError):
        resilience.guard("crm", operation="update")(_fail)()
    ok, failed = spans.get_finished_spans()
    assert ok.name == "crm.lookup"
    assert ok.attributes == {"dependency": "crm", "operation": "lookup"}
    assert ok.status.status_code is StatusCode.UNSET
    assert failed.name == "crm.update"  # retries stay inside the one span
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.attributes["error.code"] == "dependency_error"


def test_counters_per_dependency(make_resilience: Callable[..., Resilience]) -> None:
    resilience = make_resilience(fail_max=2, max_attempts=2, reset_timeout_s=60)
    before = {
        "retries": _value("resilience_retries_total", dependency="billing"),
        "opened": _value(
            "resilience_breaker_transitions_total", dependency="billing", state="open"
        ),
        "rejected": _value(
            "resilience_rejections_total", dependency="billing", reason="circuit_open"
        ),
        "failed": _value(
            "resilience_failures_total", dependency="billing", code="dependency_error"
        ),
    }
    call = resilience.guard("billing")(_fail)
    with pytest.raises(DependencyError):
        call()  # two attempts, counted as one failure: the breaker stays closed
    with pytest.raises(CircuitOpenError):
        call()  # its first failure opens the breaker, which refuses the retry
    assert _value("resilience_retries_total", dependency="billing") - before["retries"] == 2
    assert (
        _value("resilience_breaker_transitions_total", dependency="billing", state="open")
        - before["opened"]
        == 1
    )
    assert (
        _value("resilience_rejections_total", dependency="billing", reason="circuit_open")
        - before["rejected"]
        == 1
    )
    assert (
        _value("resilience_failures_total", dependency="billing", code="dependency_error")
        - before["failed"]
        == 1
    )
    assert REGISTRY.get_sample_value("resilience_breaker_state", {"dependency": "billing"}) == 2


def _fail() -> None:
    raise ConnectionError("down")
