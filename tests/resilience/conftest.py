"""Fixtures for the resilience tests: a ``Resilience`` built from policy overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.redis_server import RedisServer
from tools.resilience import Resilience, ResilienceConfig


@pytest.fixture
def make_resilience() -> Iterator[Callable[..., Resilience]]:
    """``make_resilience(fail_max=2, ...)``: in-process Resilience with that default policy."""
    built: list[Resilience] = []

    def build(redis: Any = None, config: dict[str, Any] | None = None, **policy: Any) -> Resilience:
        values: dict[str, Any] = {"default": {"backoff_initial_s": 0.001, **policy}}
        values.update(config or {})
        resilience = Resilience(ResilienceConfig.model_validate(values), redis)
        built.append(resilience)
        return resilience

    yield build
    for resilience in built:
        resilience.close()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.kill()
