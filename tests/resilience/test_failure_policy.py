"""Policies per kind of dependency: what is retried, what is counted, how fast it recovers."""

from __future__ import annotations

import asyncio

import pytest

from agent.settings import load_settings
from storage.memory.errors import MemoryStorageError
from tools.errors import CircuitOpenError, DependencyError
from tools.resilience import Resilience, ResilienceConfig


def test_a_retryable_storage_error_is_retried_through_the_guard() -> None:
    """The memory store marks a dropped pooled connection retryable (the pool is not
    pre-pinged); the guard must retry it, not turn it into a final error."""
    attempts = []

    def remember() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise MemoryStorageError("memory remember: connection lost", retryable=True)
        return "stored"

    with Resilience(ResilienceConfig()) as resilience:
        assert resilience.guard("memory", operation="remember")(remember)() == "stored"
    assert len(attempts) == 3


async def test_a_final_storage_error_stays_final() -> None:
    attempts = []

    async def remember() -> None:
        attempts.append(1)
        raise MemoryStorageError("memory remember: constraint violated", retryable=False)

    async with Resilience(ResilienceConfig()) as resilience:
        with pytest.raises(DependencyError) as raised:
            await resilience.guard("memory", operation="remember")(remember)()
    assert raised.value.retryable is False
    assert len(attempts) == 1


async def test_database_attempts_of_one_call_are_counted_once() -> None:
    """4 calls failing 3 attempts each, 6 succeeding: 40% of calls failed, under the 50%
    threshold, so the breaker stays closed (counting attempts it would be 12 of 18)."""
    failing = True

    async def query() -> str:
        if failing:
            raise ConnectionResetError("server closed the connection")
        return "row"

    async with Resilience(ResilienceConfig()) as resilience:
        guarded = resilience.guard("memory", operation="recall")(query)
        for _ in range(4):
            with pytest.raises(DependencyError):
                await guarded()
        failing = False
        for _ in range(6):
            assert await guarded() == "row"
        assert resilience.breaker_state("memory") == "closed"


async def test_a_database_breaker_opens_on_its_failure_rate_and_probes_within_a_second() -> None:
    failing = True

    async def query() -> str:
        if failing:
            raise ConnectionRefusedError("restarting")
        return "row"

    config = ResilienceConfig.model_validate({"default": {"max_attempts": 1}})
    async with Resilience(config) as resilience:
        guarded = resilience.guard("memory", operation="recall")(query)
        results = await asyncio.gather(*(guarded() for _ in range(10)), return_exceptions=True)
        assert all(isinstance(r, DependencyError) for r in results)
        assert resilience.breaker_state("memory") == "open"
        with pytest.raises(CircuitOpenError) as refused:
            await guarded()
        assert refused.value.retry_after_s is not None
        assert refused.value.retry_after_s <= 1.0
        failing = False
        await asyncio.sleep(refused.value.retry_after_s)
        assert await guarded() == "row"  # the probe
        assert resilience.breaker_state("memory") == "closed"


def test_the_model_policy_follows_the_model_settings() -> None:
    settings = load_settings(llm={"timeout_s": 60})
    policy = settings.resilience.policy("llm")
    assert policy.timeout_s == 60
    assert policy.total_timeout_s >= 60
    assert "timeout" not in policy.retry_on_codes
    # An operator's override still wins over the kind's defaults.
    custom = load_settings(
        llm={"timeout_s": 60},
        resilience={"dependencies": {"llm": {"retry_on_codes": ["timeout", "dependency_error"]}}},
    )
    assert custom.resilience.policy("llm").retry_on_codes == ["timeout", "dependency_error"]
    assert custom.resilience.policy("llm").timeout_s == 60
    # HTTP services keep the field defaults.
    assert settings.resilience.policy("crm").fail_max == 5
    assert settings.resilience.policy("memory").failure_rate_threshold == 0.5
