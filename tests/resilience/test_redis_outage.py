"""Redis killed mid-run and restarted: calls go on, breakers still trip, sharing resumes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from storage.config import RedisConfig
from storage.redis import RedisHandle
from tests.redis_server import RedisServer, wait_for
from tools.errors import CircuitOpenError, DependencyError, RateLimitedError
from tools.resilience import Resilience, call_scope
from tools.resilience.metrics import REGISTRY

REDIS_TIMEOUT_S = 0.2


@pytest.fixture
def handles(redis_server: RedisServer) -> Iterator[tuple[RedisHandle, RedisHandle]]:
    config = RedisConfig(
        url=redis_server.url, socket_timeout_s=REDIS_TIMEOUT_S, connect_timeout_s=REDIS_TIMEOUT_S
    )
    first, second = RedisHandle.from_config(config), RedisHandle.from_config(config)
    assert first is not None
    assert second is not None
    yield first, second
    first.close()
    second.close()


def test_redis_killed_and_restarted(
    redis_server: RedisServer,
    handles: tuple[RedisHandle, RedisHandle],
    make_resilience: Callable[..., Resilience],
) -> None:
    config = {
        "replicas": 2,
        "redis_poll_interval_s": 0.1,
        "redis_probe_interval_s": 0.1,
        "dependencies": {"search": {"rate_limit_tool": "4/minute"}},
    }
    policy = {"fail_max": 3, "max_attempts": 1, "reset_timeout_s": 60}
    a = make_resilience(redis=handles[0], config=config, **policy)
    b = make_resilience(redis=handles[1], config=config, **policy)

    healthy = a.guard("kb")(lambda: "ok")
    outcomes: list[BaseException | None] = []

    @a.guard("crm")
    def crm() -> str:
        error = outcomes.pop(0) if outcomes else None
        if error is not None:
            raise error
        return "ok"

    search = a.guard("search")(lambda: "found")
    with call_scope("acme"):
        assert search() == "found"
    assert crm() == "ok"
    assert b.guard("crm")(lambda: "ok")() == "ok"
    assert b.guard("billing")(lambda: "ok")() == "ok"
    assert a.status()["shared_state"] == "redis"

    redis_server.kill()

    slowest = 0.0
    for _ in range(50):
        started = time.monotonic()
        assert healthy() == "ok"
        slowest = max(slowest, time.monotonic() - started)
    outcomes.extend([ConnectionError("down")] * 3)
    for _ in range(3):
        started = time.monotonic()
        with pytest.raises(DependencyError):
            crm()
        slowest = max(slowest, time.monotonic() - started)
    assert slowest < 3 * REDIS_TIMEOUT_S  # no call waited on Redis longer than its timeout
    assert a.breaker_state("crm") == "open"  # the local breaker still trips
    with pytest.raises(CircuitOpenError):
        crm()
    assert a.status()["shared_state"] == "degraded"
    assert REGISTRY.get_sample_value("resilience_redis_available") == 0
    with call_scope("acme"):  # limit 4 over 2 replicas: 2 per process while degraded
        assert search() == "found"
        assert search() == "found"
        with pytest.raises(RateLimitedError):
            search()

    redis_server.start()

    assert wait_for(lambda: a.status()["shared_state"] == "redis")
    assert wait_for(lambda: b.status()["shared_state"] == "redis")
    # What happened while Redis was away is shared: B now refuses crm too.
    assert redis_server.client().hget(handles[0].key("cb", "crm"), "st") == "open"
    assert wait_for(lambda: b.breaker_state("crm") == "open")
    # And new transitions propagate again.
    billing = a.guard("billing")(_fail)
    for _ in range(3):
        with pytest.raises(DependencyError):
            billing()
    assert wait_for(lambda: b.breaker_state("billing") == "open", timeout_s=1.0)
    assert healthy() == "ok"


def _fail() -> None:
    raise ConnectionError("billing down")


async def test_hung_redis_costs_at_most_one_timeout_then_nothing(
    redis_server: RedisServer,
    handles: tuple[RedisHandle, RedisHandle],
    make_resilience: Callable[..., Resilience],
) -> None:
    config = {"redis_probe_interval_s": 0.1, "dependencies": {"kb": {"rate_limit_tool": "1000/s"}}}
    resilience = make_resilience(redis=handles[0], config=config)
    search = resilience.guard("kb")(_async_ok)
    assert await search() == "ok"
    redis_server.pause()
    try:
        durations = []
        for _ in range(20):
            started = time.monotonic()
            assert await search() == "ok"  # the limit falls back to in-process
            durations.append(time.monotonic() - started)
        assert max(durations) < 3 * REDIS_TIMEOUT_S  # the first call waited one timeout
        assert sorted(durations)[-2] < REDIS_TIMEOUT_S  # the others did not wait on Redis
        assert resilience.status()["shared_state"] == "degraded"
    finally:
        redis_server.resume()
    assert wait_for(lambda: resilience.status()["shared_state"] == "redis")
    assert await search() == "ok"


async def _async_ok() -> str:
    return "ok"
