"""The HTTP backend against a real local server: answers, every failure mode, no key leaks."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr

from tools.config import CRMConfig
from tools.crm import CRMService, CustomerQuery, HTTPCRMBackend, build_crm_tools
from tools.errors import ToolError
from tools.resilience import Resilience, ResilienceConfig

from .conftest import TENANT, Tau2, call, check_customer, check_order, scoped
from .crm_server import CRMData, serve

API_KEY = "sk-crm-" + secrets.token_hex(16)


@pytest.fixture(scope="module")
def crm_data(tau2: Tau2) -> CRMData:
    return CRMData(tau2.users, {o["order_id"]: o for o in tau2.orders}, API_KEY)


@pytest.fixture(scope="module")
def crm_url(crm_data: CRMData) -> Iterator[str]:
    with serve(crm_data) as url:
        yield url


def make_backend(url: str, key: str = API_KEY, timeout_s: float = 5.0) -> HTTPCRMBackend:
    return HTTPCRMBackend(
        CRMConfig(backend="http", base_url=url, api_key=SecretStr(key), timeout_s=timeout_s)
    )


@pytest.fixture
def backend(crm_url: str) -> Iterator[HTTPCRMBackend]:
    built = make_backend(crm_url)
    yield built
    built.close()


def _query(user: dict[str, Any]) -> CustomerQuery:
    return CustomerQuery(
        first_name=user["name"]["first_name"],
        last_name=user["name"]["last_name"],
        zip=user["address"]["zip"],
    )


async def test_answers_match_the_fixtures(
    backend: HTTPCRMBackend, tau2: Tau2, resilience: Resilience
) -> None:
    service = CRMService(backend, resilience)
    for user in tau2.users[:5]:
        for query in (
            CustomerQuery(email=user["email"]),
            CustomerQuery(customer_id=user["user_id"]),
            _query(user),
        ):
            [view] = service.find_customers(TENANT, query)
            check_customer(view, user)
            [aview] = await service.afind_customers(TENANT, query)
            assert aview == view
    for order in tau2.orders[:5]:
        check_order(service.get_order(TENANT, order["order_id"].lstrip("#")), order)
        check_order(await service.aget_order(TENANT, order["order_id"]), order)
    assert backend.get_order(TENANT, "#W0000000") is None
    assert backend.find_customers(TENANT, CustomerQuery(email="nobody@example.com"), 5) == []
    await backend.aclose()


FAILURES = [
    # (tenant header, code, retryable, words the message must contain)
    ("boom", "dependency_error", True, "HTTP 500"),
    ("busy", "rate_limited", True, "rate limiting"),
    ("garbled", "dependency_error", False, "malformed"),
    ("wrongshape", "dependency_error", False, "malformed"),
]


@pytest.mark.parametrize(("tenant", "code", "retryable", "words"), FAILURES)
async def test_failures_become_structured_errors(
    backend: HTTPCRMBackend, tenant: str, code: str, retryable: bool, words: str
) -> None:
    attempts = [
        lambda: backend.find_customers(tenant, CustomerQuery(email="a@b.example"), 5),
        lambda: backend.get_order(tenant, "#W1000201"),
    ]
    for attempt in attempts:
        with pytest.raises(ToolError) as caught:
            attempt()
        assert (caught.value.code, caught.value.retryable) == (code, retryable)
        assert words in caught.value.message
        assert caught.value.dependency == "crm"
    with pytest.raises(ToolError) as caught:
        await backend.aget_order(tenant, "#W1000201")
    assert caught.value.code == code
    if tenant == "busy":
        assert caught.value.retry_after_s == 7


async def test_wrong_key_is_a_permanent_error_without_the_key(crm_url: str) -> None:
    wrong = "sk-wrong-" + secrets.token_hex(8)
    backend = make_backend(crm_url, key=wrong)
    with pytest.raises(ToolError) as caught:
        await backend.afind_customers(TENANT, CustomerQuery(email="a@b.example"), 5)
    error = caught.value
    assert (error.code, error.retryable) == ("dependency_error", False)
    assert "401" in error.message
    assert "crm.api_key" in error.message
    for text in (str(error), repr(error), json.dumps(error.to_dict()), repr(backend)):
        assert wrong not in text
    await backend.aclose()


async def test_slow_answers_time_out_or_succeed_by_the_configured_timeout(
    crm_url: str, tau2: Tau2
) -> None:
    impatient = make_backend(crm_url, timeout_s=0.2)
    with pytest.raises(ToolError) as caught:
        impatient.get_order("slow", tau2.orders[0]["order_id"])
    assert (caught.value.code, caught.value.retryable) == ("timeout", True)
    with pytest.raises(ToolError) as caught:
        await impatient.afind_customers("slow", CustomerQuery(email=tau2.users[0]["email"]), 5)
    assert caught.value.code == "timeout"
    await impatient.aclose()
    patient = make_backend(crm_url, timeout_s=10)
    order = patient.get_order("slow", tau2.orders[0]["order_id"])
    assert order is not None
    assert order.order_id == tau2.orders[0]["order_id"]
    await patient.aclose()


def test_unreachable_server_is_retryable(tau2: Tau2) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = make_backend(f"http://127.0.0.1:{port}")
    with pytest.raises(ToolError) as caught:
        backend.get_order(TENANT, "#W1000201")
    assert (caught.value.code, caught.value.retryable) == ("dependency_error", True)
    backend.close()


def test_tool_retries_transient_failures_then_reports_them(crm_url: str, crm_data: CRMData) -> None:
    resilience = Resilience(
        ResilienceConfig.model_validate(
            {"default": {"backoff_initial_s": 0.001, "max_attempts": 3, "fail_max": 50}}
        )
    )
    backend = make_backend(crm_url)
    lookup, get_order = build_crm_tools(CRMService(backend, resilience))
    before = crm_data.hits.get("boom", 0)
    message = call(get_order, {"order_id": "#W1000201"}, scoped("boom"))
    assert message.status == "error"
    error = json.loads(message.content)["error"]
    assert (error["code"], error["retryable"]) == ("dependency_error", True)
    assert crm_data.hits["boom"] - before == 3
    before = crm_data.hits.get("garbled", 0)
    message = call(lookup, {"email": "a@b.example"}, scoped("garbled"))
    assert json.loads(message.content)["error"]["code"] == "dependency_error"
    assert crm_data.hits["garbled"] - before == 1
    backend.close()
    resilience.close()


async def test_api_key_never_reaches_logs_errors_or_tool_output(
    crm_url: str, caplog: pytest.LogCaptureFixture, tau2: Tau2
) -> None:
    caplog.set_level(logging.DEBUG)
    resilience = Resilience(
        ResilienceConfig.model_validate({"default": {"backoff_initial_s": 0.001}})
    )
    backend = make_backend(crm_url, timeout_s=0.2)
    lookup, get_order = build_crm_tools(CRMService(backend, resilience))
    outputs: list[str] = [
        repr(backend),
        repr(CRMConfig(backend="http", base_url=crm_url, api_key=SecretStr(API_KEY))),
    ]
    for tenant in (TENANT, "boom", "busy", "garbled", "slow", "ghost"):
        outputs.append(call(lookup, {"email": tau2.users[0]["email"]}, scoped(tenant)).content)
        message = await get_order.ainvoke(
            {
                "type": "tool_call",
                "id": "c",
                "name": "get_order",
                "args": {"order_id": "#W1000201"},
            },
            config=scoped(tenant),
        )
        outputs.append(str(message.content))
    assert any("HTTP 500" in o for o in outputs)
    assert caplog.records, "the failures were logged"
    assert API_KEY not in caplog.text
    assert all(API_KEY not in o for o in outputs)
    assert tau2.users[0]["email"] not in caplog.text
    await backend.aclose()
    resilience.close()


async def test_close_releases_both_clients(crm_url: str) -> None:
    backend = make_backend(crm_url)
    await backend.aclose()
    assert backend._client.is_closed
    assert backend._aclient.is_closed


def test_a_failing_crm_opens_the_breaker_and_escalation_sees_it(
    crm_url: str, crm_data: CRMData
) -> None:
    from tools.escalation import detect_escalation

    resilience = Resilience(
        ResilienceConfig.model_validate(
            {"default": {"max_attempts": 1, "fail_max": 2, "reset_timeout_s": 60}}
        )
    )
    backend = make_backend(crm_url)
    _, get_order = build_crm_tools(CRMService(backend, resilience))
    codes = [
        json.loads(call(get_order, {"order_id": "#W1000201"}, scoped("boom")).content)["error"][
            "code"
        ]
        for _ in range(2)
    ]
    assert codes == ["dependency_error", "dependency_error"]
    before = crm_data.hits["boom"]
    rejected = json.loads(call(get_order, {"order_id": "#W1000201"}, scoped("boom")).content)
    assert rejected["error"]["code"] == "circuit_open"
    assert rejected["error"]["retryable"] is True
    assert crm_data.hits["boom"] == before, "an open breaker does not call the CRM"
    states = {"crm": resilience.breaker_state("crm")}
    signals = detect_escalation("where is my order?", breaker_states=states)
    assert [s.kind for s in signals] == ["dependency_unavailable"]
    backend.close()
    resilience.close()
