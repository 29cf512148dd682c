"""LangChain's standard tool tests and hypothesis-generated bad arguments for escalate_to_human."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from storage.config import DatabaseConfig
from storage.engine import Database
from storage.tickets import TicketStore
from tools.config import EscalationConfig
from tools.escalation import EscalationService, build_escalation_tool
from tools.resilience import Resilience, ResilienceConfig

from .conftest import call, scoped

EXAMPLE = {
    "reason": "human_request",
    "summary": "The customer asked for a person to discuss a damaged delivery.",
    "priority": "normal",
}


def _offline_tool(tmp_dir: str) -> BaseTool:
    """Construction must not touch the database (it is never connected here)."""
    database = Database(DatabaseConfig(url=f"sqlite:///{tmp_dir}/never-opened.db"))
    service = EscalationService(TicketStore(database), EscalationConfig())
    return build_escalation_tool(service, Resilience(ResilienceConfig()), default_tenant="demo")


class TestEscalateUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        import tempfile

        return _offline_tool(tempfile.gettempdir())

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return dict(EXAMPLE)


class TestEscalateIntegration(ToolsIntegrationTests):
    @pytest.fixture
    def tool(self, service: EscalationService, resilience: Resilience) -> BaseTool:
        return build_escalation_tool(
            service, resilience, default_tenant=f"std{uuid.uuid4().hex[:8]}"
        )

    @property
    def tool_constructor(self) -> BaseTool:
        import tempfile

        return _offline_tool(tempfile.gettempdir())

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return dict(EXAMPLE)


def test_standard_example_opens_a_ticket(
    service: EscalationService, resilience: Resilience
) -> None:
    tool = build_escalation_tool(service, resilience, default_tenant=f"std{uuid.uuid4().hex[:8]}")
    message = call(tool, dict(EXAMPLE), {})
    assert message.status == "success"
    assert message.artifact["created"] is True
    assert message.artifact["ticket_id"].startswith("tkt_")


VALUES = st.one_of(
    st.none(),
    st.text(max_size=5000),
    st.integers(),
    st.booleans(),
    st.lists(st.one_of(st.text(max_size=600), st.integers()), max_size=12),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.sampled_from(["human_request", "legal", "urgent", "low", "noah_brown_6181", "\x00\x1b[31m"]),
)
KEYS = st.sampled_from(
    ["reason", "summary", "priority", "customer_id", "evidence", "tenant_id", "idempotency_key"]
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=st.dictionaries(KEYS, VALUES, max_size=6))
def test_any_arguments_give_a_ticket_or_a_structured_error(
    escalate_tool: BaseTool, tenant: str, args: dict[str, Any]
) -> None:
    message = call(escalate_tool, args, scoped(tenant))
    if message.status == "error":
        error = json.loads(message.content)["error"]
        assert error["code"] == "invalid_input", error
    else:
        assert message.artifact["ticket_id"].startswith("tkt_")
        assert set(args) <= {"reason", "summary", "priority", "customer_id", "evidence"}
