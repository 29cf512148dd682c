"""Logs carry no personal data or secrets, whoever writes them."""

from __future__ import annotations

import io
import json
import logging
import os
from pathlib import Path

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode
from pydantic import SecretStr

from agent.observability import configure_langsmith, configure_logging, configure_observability
from agent.redaction import redact, redact_text, register_secrets
from agent.settings import ObservabilityConfig, load_settings
from agent.span_redaction import RedactingSpanExporter
from storage.redis_scripts import Endpoint

local = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=20).filter(
    lambda s: s[0].isalnum() and s[-1].isalnum()
)
emails = st.builds(lambda user, domain: f"{user}@{domain}.com", local, local)


@given(prefix=st.text(max_size=30), email=emails, suffix=st.text(max_size=30))
def test_no_email_survives_redaction(prefix: str, email: str, suffix: str) -> None:
    assert email not in redact_text(f"{prefix} {email} {suffix}")


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("card 4111 1111 1111 1111 declined", "4111 1111 1111 1111"),
        ("call me on +44 20 7946 0958 please", "7946 0958"),
        ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ],
)
def test_cards_phones_and_credentials_are_hidden(raw: str, hidden: str) -> None:
    assert hidden not in redact_text(raw)


def test_ordinary_identifiers_and_dates_are_kept() -> None:
    text = "order #W2378156 shipped 2024-05-01, ticket 42"
    assert redact_text(text) == text


def test_secret_keys_and_secret_values_are_dropped() -> None:
    fields = {"api_key": "sk-live-123", "nested": {"password": "pw"}, "llm_key": SecretStr("x")}
    assert redact(fields) == {
        "api_key": "[redacted]",
        "nested": {"password": "[redacted]"},
        "llm_key": "[redacted]",
    }


def test_stdlib_and_structlog_records_are_redacted_as_json(
    capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])  # a process nobody configured
    configure_logging(ObservabilityConfig(log_format="json"))
    try:
        logging.getLogger("third.party").warning("user jane@example.com failed login")
        structlog.get_logger("ours").info("lookup", email="bob@example.org", api_key="sk-1")
        lines = [json.loads(line) for line in capfd.readouterr().err.strip().splitlines()]
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()
    text = json.dumps(lines)
    assert "jane@example.com" not in text
    assert "bob@example.org" not in text
    assert "sk-1" not in text
    assert lines[0]["logger"] == "third.party"
    assert lines[1]["event"] == "lookup"


def test_a_host_that_configured_logging_keeps_its_handler_and_gets_redaction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    host = logging.StreamHandler(stream)
    monkeypatch.setattr(logging.getLogger(), "handlers", [host])
    configure_logging(ObservabilityConfig(log_format="json"))
    logging.getLogger("agent.x").warning("mail %s", "jane@example.com")
    assert logging.getLogger().handlers == [host]
    assert stream.getvalue() == "mail [email]\n"


@pytest.mark.parametrize(
    ("raw", "hidden"),
    [
        ("redis://:pw-Redis-9@cache:6379/0 refused", "pw-Redis-9"),
        ("postgresql://app:pw-Pg-9@db/x unreachable", "pw-Pg-9"),
        ("https://hooks.example/x?access_token=cap-Url-9&a=1", "cap-Url-9"),
        ("Error 401: Incorrect API key provided: sk-proj-abcdefghijklmnop", "sk-proj-abcdefghij"),
        ("IntegrityError [SQL: INSERT ...] [parameters: ('4111', 'k-Param-9')]", "k-Param-9"),
    ],
)
def test_credentials_in_urls_provider_errors_and_sql_parameters_are_hidden(
    raw: str, hidden: str
) -> None:
    assert hidden not in redact_text(raw)


def test_a_configured_secret_is_hidden_wherever_it_is_echoed() -> None:
    register_secrets([SecretStr("plain-Configured-Key-77")])
    assert "plain-Configured-Key-77" not in redact_text("provider said: plain-Configured-Key-77")


def test_the_redis_endpoint_repr_never_shows_its_password() -> None:
    endpoint = Endpoint.from_url(
        "redis://user:pw-Endpoint-9@localhost:6379/0", connect_timeout_s=1, socket_timeout_s=1
    )
    assert endpoint.password == "pw-Endpoint-9"
    assert "pw-Endpoint-9" not in repr(endpoint)


def test_span_exception_events_and_status_are_redacted() -> None:
    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(RedactingSpanExporter(exporter)))
    span = provider.get_tracer("t").start_span("db", attributes={"db.password": "pw-Span-9"})
    span.record_exception(ValueError("[parameters: ('4111 1111 1111 1111', 'sk-abcdefghijkl')]"))
    span.set_status(Status(StatusCode.ERROR, "mail jane@example.com"))
    span.end()
    [exported] = exporter.get_finished_spans()
    dumped = json.dumps(
        [dict(exported.attributes), [dict(e.attributes) for e in exported.events]], default=str
    ) + str(exported.status.description)
    for hidden in ("pw-Span-9", "4111 1111", "sk-abcdefghijkl", "jane@example.com"):
        assert hidden not in dumped


def test_langsmith_is_switched_on_through_its_standard_variables(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("LANGSMITH_TRACING", "LANGSMITH_PROJECT", "LANGSMITH_API_KEY"):
        # set first, so that the variables the test makes are removed again afterwards
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    configure_langsmith(ObservabilityConfig(langsmith_tracing=False))
    assert "LANGSMITH_TRACING" not in os.environ
    monkeypatch.setenv("LANGSMITH_PROJECT", "chosen-by-operator")
    configure_langsmith(
        ObservabilityConfig(langsmith_tracing=True, langsmith_api_key=SecretStr("ls-key-123456"))
    )
    assert os.environ["LANGSMITH_TRACING"] == "true"
    assert os.environ["LANGSMITH_API_KEY"] == "ls-key-123456"
    assert os.environ["LANGSMITH_PROJECT"] == "chosen-by-operator"


def test_configuring_twice_installs_one_handler(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    settings = load_settings(
        environment="test", data_dir=tmp_path, observability={"log_format": "json"}
    )
    try:
        configure_observability(settings)
        configure_observability(settings)
        assert [h.get_name() for h in logging.getLogger().handlers] == ["support-agent"]
    finally:
        structlog.reset_defaults()
