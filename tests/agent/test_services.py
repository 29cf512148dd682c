"""Services close in an order that never pulls a connection from under a running thread."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from agent.services import Services
from agent.settings import Settings
from tools.resilience import call_scope


async def test_aclose_closes_this_loops_redis_clients_after_a_real_call(
    make_settings: Callable[..., Settings],
    redis_url: str,
    redis_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = make_settings(
        redis={"url": redis_url, "key_prefix": redis_prefix},
        embeddings={"provider": "fake"},
        resilience={"dependencies": {"kb": {"rate_limit_tool": "1000/s"}}},
    )
    services = await Services.open(settings)
    handle = services.redis
    assert handle is not None

    async def ok() -> str:
        return "ok"

    with call_scope("acme"):
        assert await services.resilience.guard("kb")(ok)() == "ok"  # one script round trip
    await handle.aio.ping()
    loop = asyncio.get_running_loop()
    assert loop in handle.scripts._by_loop

    with caplog.at_level(logging.WARNING):
        await services.aclose()

    assert loop not in handle._aio, "this loop's redis.asyncio client was closed"
    assert loop not in handle.scripts._by_loop, "this loop's script channel was closed"
    # The breaker-sync thread stopped before the pool closed: no false "Redis went away".
    assert "redis unreachable" not in caplog.text
