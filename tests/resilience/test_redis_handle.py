"""RedisHandle: in-process mode, namespacing, fail-fast, one transition report, any loop."""

from __future__ import annotations

import asyncio
import time

import pytest

from storage.config import RedisConfig
from storage.redis import RedisHandle
from tests.redis_server import RedisServer
from tools.resilience import Resilience, ResilienceConfig, call_scope


def test_no_url_means_in_process_mode() -> None:
    assert RedisHandle.from_config(RedisConfig()) is None


def test_keys_are_namespaced(redis_url: str) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_url, key_prefix="tenant-a"))
    assert handle is not None
    assert handle.key("cb", "crm") == "tenant-a:cb:crm"
    handle.close()


def test_unreachable_redis_fails_fast_and_reports_each_transition_once(
    redis_server: RedisServer,
) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_server.url, socket_timeout_s=0.1))
    assert handle is not None
    seen: list[bool] = []
    handle.add_listener(seen.append)
    assert handle.probe()
    redis_server.kill()
    started = time.monotonic()
    for _ in range(5):
        assert not handle.probe()
    assert time.monotonic() - started < 5 * 0.1 * 3  # each attempt bounded by the timeout
    redis_server.start()
    assert handle.probe()
    assert handle.probe()
    assert seen == [False, True]
    handle.close()


def test_async_calls_work_from_successive_event_loops(redis_url: str, redis_prefix: str) -> None:
    """A CLI may call ``asyncio.run`` more than once with the same handle."""
    handle = RedisHandle.from_config(RedisConfig(url=redis_url, key_prefix=redis_prefix))
    assert handle is not None
    # 100 a minute: the bucket's key lives long enough to be seen on a loaded machine.
    config = ResilienceConfig.model_validate({"default": {"rate_limit_session": "100/m"}})
    resilience = Resilience(config, handle)

    @resilience.guard("kb")
    async def search() -> str:
        return "found"

    async def run() -> str:
        with call_scope("acme", session="s1"):
            result = await search()
        await handle.aio.aclose()
        return result

    assert asyncio.run(run()) == "found"
    assert asyncio.run(run()) == "found"
    assert handle.available
    assert int(handle.sync.exists(handle.key("rl", "kb", "s:acme:s1"))) == 1
    resilience.close()
    handle.close()


@pytest.mark.parametrize("timeout", [0.05, 0.5])
def test_timeouts_come_from_config(redis_url: str, timeout: float) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_url, socket_timeout_s=timeout))
    assert handle is not None
    kwargs = handle.sync.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == timeout
    assert handle.sync.get_retry().get_retries() == 0  # fail fast: no retry loop
    handle.close()
