"""Breakers and rate limits shared through the machine's Redis by separate processes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator

import pytest

from storage.config import RedisConfig
from storage.redis import RedisHandle
from tests.redis_server import RedisServer
from tools.errors import DependencyError, InvalidInputError, RateLimitedError
from tools.resilience import Resilience, call_scope

from . import workers

pytestmark = pytest.mark.redis

SPAWN = workers.SPAWN


@pytest.fixture
def handle(redis_url: str, redis_prefix: str) -> Iterator[RedisHandle]:
    handle = RedisHandle.from_config(
        RedisConfig(url=redis_url, key_prefix=redis_prefix, socket_timeout_s=0.5)
    )
    assert handle is not None
    yield handle
    handle.close()


def test_breaker_tripped_in_one_process_refuses_in_another(
    redis_url: str, redis_prefix: str
) -> None:
    args = (redis_url, redis_prefix, {"fail_max": 3, "reset_timeout_s": 30})
    reports = workers.run_jobs([(workers.trip, args), (workers.watch, args)])
    by_kind = {kind: rest for kind, *rest in reports}
    opened_at, errors = by_kind["opened"]
    refused_at, calls = by_kind["refused"]
    assert errors == ["DependencyError"]
    assert calls >= 1  # process B was calling successfully before the trip
    assert refused_at is not None, "process B never saw the breaker open"
    assert refused_at - opened_at < 1.0


@pytest.mark.parametrize("permits", [1, 2])
def test_half_open_admits_exactly_n_probes_cluster_wide(
    redis_url: str, redis_prefix: str, handle: RedisHandle, permits: int
) -> None:
    policy = {"fail_max": 1, "reset_timeout_s": 1.0, "half_open_permits": permits}
    resilience = workers.build(redis_url, redis_prefix, policy)
    with pytest.raises(DependencyError):
        resilience.guard("crm")(_raise_connection_error)()
    assert resilience.breaker_state("crm") == "open"
    workers._close(resilience)
    opened = time.time()
    results = workers.run_together(
        workers.probe_crowd,
        *[(redis_url, redis_prefix, policy, callers) for callers in (7, 7, 6)],
        lead_s=max(0.3, opened + 1.2 - time.time()),  # start once the reset timeout is over
    )
    ran = sum(r for r, _ in results)
    refused = sum(r for _, r in results)
    assert ran == permits
    assert refused == 20 - permits


def test_rate_limit_holds_within_one_percent_across_processes(
    redis_url: str, redis_prefix: str
) -> None:
    rate, burst, seconds = 50, 50, 4.0  # the burst absorbs CPU stalls of all 3 callers
    policy = {"rate_limit_tool": {"limit": rate, "period_s": 1.0, "burst": burst}}
    results = workers.run_together(
        workers.hammer, *[(redis_url, redis_prefix, policy, seconds)] * 3
    )
    allowed = sum(a for a, _ in results)
    refused = sum(r for _, r in results)
    assert refused > allowed  # the processes really competed for the limit
    assert abs((allowed - burst) - rate * seconds) <= 0.01 * rate * seconds


def _raise_connection_error() -> None:
    raise ConnectionError("down")


async def test_cancellations_do_not_trip_the_shared_breaker(
    handle: RedisHandle, make_resilience: Callable[..., Resilience]
) -> None:
    resilience = make_resilience(redis=handle, fail_max=2, max_attempts=1)

    @resilience.guard("crm")
    async def hang() -> None:
        await asyncio.sleep(10)

    for _ in range(5):
        task = asyncio.create_task(hang())
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert resilience.breaker_state("crm") == "closed"
    assert handle.sync.hget(handle.key("cb", "crm"), "f") in (None, "0")


def test_excluded_errors_neither_trip_nor_reset_the_shared_breaker(
    handle: RedisHandle, make_resilience: Callable[..., Resilience]
) -> None:
    resilience = make_resilience(redis=handle, fail_max=3, max_attempts=1)
    outcomes = [ConnectionError(), ConnectionError(), InvalidInputError("bad"), ConnectionError()]

    @resilience.guard("crm")
    def call() -> None:
        raise outcomes.pop(0)

    for _ in range(2):
        with pytest.raises(DependencyError):
            call()
    with pytest.raises(InvalidInputError):
        call()
    assert handle.sync.hget(handle.key("cb", "crm"), "f") == "2"
    with pytest.raises(DependencyError):
        call()
    assert handle.sync.hget(handle.key("cb", "crm"), "st") == "open"
    assert resilience.breaker_state("crm") == "open"


def test_success_path_sends_no_redis_command(
    make_resilience: Callable[..., Resilience], redis_server: RedisServer
) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_server.url))
    assert handle is not None
    resilience = make_resilience(redis=handle)
    call = resilience.guard("kb")(lambda: "ok")
    call()
    before = _script_calls(redis_server)
    for _ in range(50):
        assert call() == "ok"
    assert _script_calls(redis_server) == before
    resilience.close()
    handle.close()


def _script_calls(server: RedisServer) -> int:
    stats = server.client().info("commandstats")
    return sum(int(v["calls"]) for k, v in stats.items() if k.endswith(("evalsha", "eval")))


async def test_session_tenant_and_tool_limits_in_one_check(
    handle: RedisHandle, make_resilience: Callable[..., Resilience]
) -> None:
    resilience = make_resilience(
        redis=handle,
        rate_limit_session={"limit": 2, "period_s": 60},
        rate_limit_tenant={"limit": 3, "period_s": 60},
    )
    call = resilience.guard("kb", operation="search")(_async_ok)
    with call_scope("acme", session="s1"):
        await call()
        await call()
        with pytest.raises(RateLimitedError) as caught:
            await call()
    assert 29 < caught.value.retry_after_s <= 30
    assert "session" in caught.value.message
    with call_scope("acme", session="s2"):
        await call()  # a new session still has room, the tenant has one call left
        with pytest.raises(RateLimitedError) as caught:
            await call()
    assert "tenant" in caught.value.message
    with call_scope("other", session="s1"):
        await call()  # other tenants are not affected


async def _async_ok() -> str:
    return "ok"
