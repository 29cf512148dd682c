"""Resilience settings as an operator writes them, and the in-process GCRA."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from tools.errors import RateLimitedError
from tools.resilience import RateLimit, ResilienceConfig, call_scope
from tools.resilience.rate_limit import LocalGcra


@pytest.mark.parametrize(
    ("text", "limit", "period"),
    [
        ("10/s", 10, 1.0),
        ("100/minute", 100, 60.0),
        ("5/10s", 5, 10.0),
        ("2/2hours", 2, 7200.0),
        ("3/hour", 3, 3600.0),
    ],
)
def test_rate_limits_parse_from_text(text: str, limit: int, period: float) -> None:
    rate = RateLimit.model_validate(text)
    assert (rate.limit, rate.period_s, rate.capacity) == (limit, period, limit)


@pytest.mark.parametrize("text", ["ten per second", "10/fortnight", "0/s", "/s"])
def test_bad_rate_limits_are_refused_with_a_clear_message(text: str) -> None:
    with pytest.raises(ValidationError):
        RateLimit.model_validate(text)


@given(limit=st.integers(1, 10_000), replicas=st.integers(1, 64))
def test_divided_limits_never_exceed_the_whole(limit: int, replicas: int) -> None:
    share = RateLimit(limit=limit).divided(replicas)
    assert share.limit >= 1
    assert share.limit * replicas <= max(limit, replicas)


@pytest.mark.parametrize(
    "value",
    ["invalid_input, not_found", '["invalid_input", "not_found"]', ["invalid_input", "not_found"]],
)
def test_keyword_lists_accept_list_json_or_commas(value: object) -> None:
    config = ResilienceConfig.model_validate({"default": {"excluded_codes": value}})
    assert config.default.excluded_codes == ["invalid_input", "not_found"]


def test_dependency_overrides_are_partial() -> None:
    config = ResilienceConfig.model_validate(
        {
            "default": {"timeout_s": 3, "fail_max": 7},
            "dependencies": '{"crm": {"timeout_s": 1, "rate_limit_tool": "5/s"}}',
        }
    )
    crm = config.policy("crm")
    assert (crm.timeout_s, crm.fail_max, crm.rate_limit_tool) == (1, 7, RateLimit(limit=5))
    assert config.policy("kb").timeout_s == 3


def test_local_gcra_allows_the_burst_then_one_per_interval() -> None:
    gcra = LocalGcra()
    limit = (RateLimit(limit=2, period_s=60, burst=3),)
    assert [gcra.hit(("k",), limit)[1] for _ in range(3)] == [-1, -1, -1]
    retry_after, refused = gcra.hit(("k",), limit)
    assert refused == 0
    assert 29 < retry_after <= 30


def test_local_gcra_consumes_all_limits_or_none() -> None:
    gcra = LocalGcra()
    limits = (RateLimit(limit=5, period_s=60), RateLimit(limit=1, period_s=60))
    assert gcra.hit(("session", "tool"), limits)[1] == -1
    assert gcra.hit(("session", "tool"), limits)[1] == 1  # the tool limit refused...
    for _ in range(4):  # ...and the session limit was not charged for it (5 = 1 + 4)
        assert gcra.hit(("session",), limits[:1])[1] == -1
    assert gcra.hit(("session",), limits[:1])[1] == 0


def test_rate_limits_apply_per_session_in_process(make_resilience) -> None:  # type: ignore[no-untyped-def]
    resilience = make_resilience(rate_limit_session="1/minute")
    call = resilience.guard("kb")(lambda: "ok")
    with call_scope("acme", session="a"):
        assert call() == "ok"
        with pytest.raises(RateLimitedError) as caught:
            call()
    assert caught.value.retryable
    assert caught.value.retry_after_s is not None
    with call_scope("acme", session="b"):
        assert call() == "ok"
    assert call() == "ok"  # no session: the session limit does not apply
