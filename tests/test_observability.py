"""Logs carry no personal data or secrets, whoever writes them."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from agent.observability import configure_logging
from agent.redaction import redact, redact_text
from agent.settings import ObservabilityConfig

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
    capfd: pytest.CaptureFixture[str],
) -> None:
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
