"""LangChain's standard tool tests and hypothesis-generated bad arguments for the CRM tools."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.tools import BaseTool
from langchain_tests.integration_tests import ToolsIntegrationTests
from langchain_tests.unit_tests import ToolsUnitTests

from tools.config import CRMConfig
from tools.crm import CRMService, HTTPCRMBackend, build_crm_tools
from tools.resilience import Resilience, ResilienceConfig

from .conftest import TENANT, call, scoped

EMAIL = "maya.chen@example.com"
ORDER = "#W1000201"


def _offline_tools() -> dict[str, BaseTool]:
    """Tools over a CRM that is never contacted: construction must not need the service."""
    backend = HTTPCRMBackend(CRMConfig(backend="http", base_url="http://127.0.0.1:9"))
    service = CRMService(backend, Resilience(ResilienceConfig()))
    return {tool.name: tool for tool in build_crm_tools(service, default_tenant=TENANT)}


OFFLINE = _offline_tools()


@pytest.fixture(scope="module")
def live_tools(crm_service: CRMService) -> dict[str, BaseTool]:
    """As a staff-facing assistant has them: LangChain's tests invoke with no runtime."""
    tools = build_crm_tools(crm_service, default_tenant=TENANT, default_role="agent")
    return {t.name: t for t in tools}


class TestLookupCustomerUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return OFFLINE["lookup_customer"]

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"email": EMAIL}


class TestGetOrderUnit(ToolsUnitTests):
    @property
    def tool_constructor(self) -> BaseTool:
        return OFFLINE["get_order"]

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"order_id": ORDER}


class TestLookupCustomerIntegration(ToolsIntegrationTests):
    @pytest.fixture
    def tool(self, live_tools: dict[str, BaseTool]) -> BaseTool:
        return live_tools["lookup_customer"]

    @property
    def tool_constructor(self) -> BaseTool:
        return OFFLINE["lookup_customer"]

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"email": EMAIL}


class TestGetOrderIntegration(ToolsIntegrationTests):
    @pytest.fixture
    def tool(self, live_tools: dict[str, BaseTool]) -> BaseTool:
        return live_tools["get_order"]

    @property
    def tool_constructor(self) -> BaseTool:
        return OFFLINE["get_order"]

    @property
    def tool_invoke_params_example(self) -> dict[str, Any]:
        return {"order_id": ORDER}


def test_standard_examples_really_answer(live_tools: dict[str, BaseTool]) -> None:
    customer = call(live_tools["lookup_customer"], {"email": EMAIL}, {})
    assert customer.artifact["customers"][0]["customer_id"] == "maya_chen_4821"
    order = call(live_tools["get_order"], {"order_id": ORDER}, {})
    assert order.artifact["order"]["customer_id"] == "omar_haddad_3307"


VALUES = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.integers(),
    st.floats(allow_nan=True),
    st.booleans(),
    st.lists(st.text(max_size=20), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    st.sampled_from([EMAIL, ORDER, "W1000201", "maya_chen_4821", "97205", "Maya", "\x00", "#"]),
)
KEYS = st.sampled_from(
    ["email", "customer_id", "first_name", "last_name", "zip", "order_id", "tenant_id", "x"]
)
ARGS = st.dictionaries(KEYS, VALUES, max_size=5)
ALLOWED = {"invalid_input", "not_found"}


def _structured(message: Any) -> None:
    if message.status == "error":
        error = json.loads(message.content)["error"]
        assert error["code"] in ALLOWED, error
        assert error["message"]
    else:
        assert json.loads(message.content) == message.artifact


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=ARGS)
def test_any_arguments_give_a_result_or_a_structured_error(
    crm_tools: dict[str, BaseTool], args: dict[str, Any]
) -> None:
    for tool in crm_tools.values():
        _structured(call(tool, args, scoped()))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(args=ARGS)
async def test_any_arguments_async(crm_tools: dict[str, BaseTool], args: dict[str, Any]) -> None:
    for tool in crm_tools.values():
        message = await tool.ainvoke(
            {"type": "tool_call", "id": "h", "name": tool.name, "args": args}, config=scoped()
        )
        _structured(message)
