"""Overhead of ``Resilience.guard`` against the bare calls and stacks it replaces, in one run.

Rows (microseconds per call, median and p99; Redis commands per call counted from the
server's ``INFO commandstats`` on a redis-server started for this bench on a free port):
- no Redis: a bare call, pybreaker's ``with breaker.calling()``, tenacity alone, and the
  guard with in-process state (sync and async);
- Redis up: the naive stack (tenacity + ``limits`` moving window + ``asyncio.timeout`` +
  pybreaker ``CircuitRedisStorage``) against the guard with a Redis-shared breaker and a
  tool rate limit, then session + tenant + tool limits, then the breaker alone; a bare
  EVALSHA of the GCRA script shows what one round trip costs here (async: through
  redis.asyncio, the library call, and through ``storage.redis_scripts``, which the guard
  uses);
- Redis down (killed, after detection): the same guard.

Run: ``.venv/bin/python -m bench.resilience [--n 20000] [--busy]``. ``--busy`` keeps a
lowest-priority busy loop running, so idle-CPU wake-ups do not dominate loopback timings.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pybreaker
import redis
import redis.asyncio.connection
import redis.connection
from limits import parse
from limits.aio.storage import RedisStorage as AsyncLimitsStorage
from limits.aio.strategies import MovingWindowRateLimiter as AsyncMovingWindow
from limits.storage import RedisStorage as LimitsStorage
from limits.strategies import MovingWindowRateLimiter
from rich.console import Console
from rich.table import Table
from tenacity import AsyncRetrying, Retrying, stop_after_attempt

from storage.config import RedisConfig
from storage.redis import RedisHandle
from storage.redis_scripts import PipelinedConnection
from tests.redis_server import RedisServer
from tools.resilience import Resilience, ResilienceConfig, call_scope
from tools.resilience.rate_limit import GCRA_LUA

UNLIMITED = {"limit": 10_000_000, "period_s": 1.0}
POLICY = {
    "rate_limit_session": UNLIMITED,
    "rate_limit_tenant": UNLIMITED,
    "rate_limit_tool": UNLIMITED,
}


@dataclass
class Row:
    group: str
    name: str
    samples: list[float]
    commands: float | None = None
    round_trips: float | None = None

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def p99(self) -> float:
        ordered = sorted(self.samples)
        return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


class RoundTrips:
    """Counts requests written to Redis by this process (a pipeline or EVALSHA is one),
    through redis-py and through the script channel.

    The server's ``commandstats`` also counts the commands a Lua script runs inside
    itself, so it is reported too, but round trips are what a caller waits for.
    """

    count = 0

    @classmethod
    def install(cls) -> None:
        sync_send = redis.connection.AbstractConnection.send_packed_command
        async_send = redis.asyncio.connection.AbstractConnection.send_packed_command

        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            cls.count += 1
            return sync_send(self, *args, **kwargs)

        async def acounted(self: Any, *args: Any, **kwargs: Any) -> Any:
            cls.count += 1
            return await async_send(self, *args, **kwargs)

        redis.connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
        redis.asyncio.connection.AbstractConnection.send_packed_command = acounted  # type: ignore[method-assign]

        channel_send = PipelinedConnection.send

        def channel_counted(self: Any, request: bytes) -> Any:
            cls.count += 1
            return channel_send(self, request)

        PipelinedConnection.send = channel_counted  # type: ignore[method-assign]


def _sync_samples(fn: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(500, n)):
        fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        fn()
        out.append((clock() - start) / 1000)
    return out


async def _async_samples(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    for _ in range(min(500, n)):
        await fn()
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        start = clock()
        await fn()
        out.append((clock() - start) / 1000)
    return out


class Meter:
    """Server command count and client round trips around one row's samples."""

    def __init__(self, server: RedisServer) -> None:
        self._server = server

    def __enter__(self) -> Meter:
        self._commands = self._server.commands()
        self._trips = RoundTrips.count
        return self

    def __exit__(self, *exc: object) -> None:
        self.trips = RoundTrips.count - self._trips - 1  # our own INFO call
        self.commands = self._server.commands() - self._commands - 1

    def row(self, group: str, name: str, samples: list[float]) -> Row:
        calls = len(samples) + min(500, len(samples))  # warm-up calls hit Redis too
        return Row(group, name, samples, self.commands / calls, self.trips / calls)


def _bare() -> int:
    return 1


async def _abare() -> int:
    return 1


def no_redis_rows(n: int) -> list[Row]:
    breaker = pybreaker.CircuitBreaker()
    retrying = Retrying(stop=stop_after_attempt(3))
    resilience = Resilience(ResilienceConfig())
    guarded = resilience.guard("bench")(_bare)
    aguarded = resilience.guard("abench")(_abare)

    def calling() -> int:
        with breaker.calling():
            return _bare()

    async def acalling() -> int:
        with breaker.calling():
            return await _abare()

    async def atenacity() -> int:
        async for attempt in AsyncRetrying(stop=stop_after_attempt(3)):
            with attempt:
                return await _abare()
        raise AssertionError

    async def atimeout() -> int:
        async with asyncio.timeout(10):
            return await _abare()

    async def run_async() -> list[Row]:
        return [
            Row("async, no Redis", "bare call", await _async_samples(_abare, n)),
            Row("async, no Redis", "with breaker.calling()", await _async_samples(acalling, n)),
            Row("async, no Redis", "tenacity AsyncRetrying", await _async_samples(atenacity, n)),
            Row("async, no Redis", "asyncio.timeout", await _async_samples(atimeout, n)),
            Row("async, no Redis", "guard (in-process)", await _async_samples(aguarded, n)),
        ]

    rows = [
        Row("sync, no Redis", "bare call", _sync_samples(_bare, n)),
        Row("sync, no Redis", "with breaker.calling()", _sync_samples(calling, n)),
        Row("sync, no Redis", "tenacity Retrying", _sync_samples(lambda: retrying(_bare), n)),
        Row("sync, no Redis", "guard (in-process)", _sync_samples(guarded, n)),
        *asyncio.run(run_async()),
    ]
    resilience.close()
    return rows


def _handle(url: str) -> RedisHandle:
    handle = RedisHandle.from_config(
        RedisConfig(url=url, key_prefix=f"bench{uuid.uuid4().hex[:6]}")
    )
    assert handle is not None
    return handle


def redis_rows(server: RedisServer, n: int) -> list[Row]:
    sync_client = redis.Redis(port=server.port)
    breaker = pybreaker.CircuitBreaker(
        state_storage=pybreaker.CircuitRedisStorage(
            pybreaker.STATE_CLOSED, sync_client, namespace="naive"
        )
    )
    limit = parse("10000000/second")
    limiter = MovingWindowRateLimiter(LimitsStorage(server.url))
    alimiter = AsyncMovingWindow(
        AsyncLimitsStorage(f"async+{server.url}", implementation="redispy")
    )
    handle = _handle(server.url)
    resilience = Resilience(ResilienceConfig.model_validate({"default": POLICY}), handle)
    shared_only = Resilience(ResilienceConfig(), handle)
    one_limit = Resilience(
        ResilienceConfig.model_validate({"default": {"rate_limit_tool": UNLIMITED}}), handle
    )
    retrying = Retrying(stop=stop_after_attempt(3))

    def naive() -> int:
        def attempt() -> int:
            if not limiter.hit(limit, "tool", "search"):
                raise RuntimeError("limited")
            return breaker.call(_bare)

        return retrying(attempt)

    async def anaive() -> int:
        async for attempt in AsyncRetrying(stop=stop_after_attempt(3)):
            with attempt:
                if not await alimiter.hit(limit, "tool", "search"):
                    raise RuntimeError("limited")
                async with asyncio.timeout(10):
                    with breaker.calling():
                        return await _abare()
        raise AssertionError

    guarded = resilience.guard("search")(_bare)
    aguarded = resilience.guard("asearch")(_abare)
    breaker_only = shared_only.guard("kb")(_abare)
    tool_limited = one_limit.guard("search")(_bare)
    atool_limited = one_limit.guard("asearch")(_abare)

    gcra = handle.sync.register_script(GCRA_LUA)
    channel_gcra = handle.register_async_script(GCRA_LUA)
    keys, argv = ["k1", "k2", "k3"], [1, 10_000_000] * 3

    async def channel_evalsha() -> Any:
        return await channel_gcra(keys=keys, args=argv)

    async def run_async() -> list[Row]:
        aio_gcra = handle.aio.register_script(GCRA_LUA)  # redis.asyncio's own script call

        async def aevalsha() -> Any:
            return await aio_gcra(keys=keys, args=argv)

        rows = []
        for name, fn in [
            ("bare call", _abare),
            ("bare EVALSHA of the GCRA script (redis.asyncio)", aevalsha),
            ("bare EVALSHA of the GCRA script (script channel)", channel_evalsha),
            ("naive stack (tenacity+limits+timeout+pybreaker Redis)", anaive),
            ("guard, Redis breaker + tool rate limit", atool_limited),
            ("guard, Redis breaker + 3 rate limits", aguarded),
            ("guard, Redis breaker only", breaker_only),
        ]:
            with Meter(server) as meter:
                samples = await _async_samples(fn, n)
            rows.append(meter.row("async, Redis up", name, samples))
        # Breaker-sync threads first: closing the handle under them reads as Redis going away.
        for each in (resilience, shared_only, one_limit):
            await each.aclose()
        await handle.aclose()  # this loop's clients and script channel, then the sync pool
        return rows

    rows = []
    with call_scope("acme", session="s-1"):
        for name, fn in [
            ("bare call", _bare),
            ("bare EVALSHA of the GCRA script", lambda: gcra(keys=keys, args=argv)),
            ("naive stack (tenacity+limits+pybreaker Redis)", naive),
            ("guard, Redis breaker + tool rate limit", tool_limited),
            ("guard, Redis breaker + 3 rate limits", guarded),
        ]:
            with Meter(server) as meter:
                samples = _sync_samples(fn, n)
            rows.append(meter.row("sync, Redis up", name, samples))
        rows += asyncio.run(run_async())
    sync_client.close()
    return rows


def redis_down_rows(n: int) -> list[Row]:
    server = RedisServer().start()
    handle = _handle(server.url)
    resilience = Resilience(
        ResilienceConfig.model_validate({"default": POLICY, "redis_probe_interval_s": 0.5}), handle
    )
    guarded = resilience.guard("search")(_bare)
    aguarded = resilience.guard("asearch")(_abare)
    with call_scope("acme", session="s-1"):
        guarded()
        server.kill()
        guarded()  # the first call after the kill detects it
        assert not handle.available
        rows = [
            Row("sync, Redis down", "bare call", _sync_samples(_bare, n)),
            Row("sync, Redis down", "guard, breaker + 3 rate limits", _sync_samples(guarded, n)),
        ]

        async def run_async() -> list[Row]:
            return [
                Row("async, Redis down", "bare call", await _async_samples(_abare, n)),
                Row(
                    "async, Redis down",
                    "guard, breaker + 3 rate limits",
                    await _async_samples(aguarded, n),
                ),
            ]

        rows += asyncio.run(run_async())
    resilience.close()
    handle.close()
    return rows


def _busy() -> None:
    os.nice(19)
    while True:
        pass


@contextlib.contextmanager
def busy_loop(enabled: bool) -> Iterator[None]:
    if not enabled:
        yield
        return
    process = multiprocessing.get_context("spawn").Process(target=_busy, daemon=True)
    process.start()
    try:
        yield
    finally:
        process.kill()


def render(rows: list[Row], console: Console) -> None:
    table = Table(title="Resilience overhead (µs per call)")
    columns = ("group", "call", "p50", "p99", "p50 - bare", "x naive", "round trips", "server cmds")
    for column in columns:
        table.add_column(column, justify="left" if column in ("group", "call") else "right")
    bare: dict[str, float] = {}
    naive: dict[str, float] = {}
    for row in rows:
        if row.name == "bare call":
            bare[row.group] = row.p50
        if row.name.startswith("naive"):
            naive[row.group] = row.p50
    for row in rows:
        overhead = row.p50 - bare.get(row.group, row.p50)
        ratio = (
            f"{row.p50 / naive[row.group]:.2f}"
            if row.group in naive and row.name.startswith("guard")
            else ""
        )
        commands = "" if row.commands is None else f"{row.commands:.2f}"
        trips = "" if row.round_trips is None else f"{row.round_trips:.2f}"
        table.add_row(
            row.group,
            row.name,
            f"{row.p50:.1f}",
            f"{row.p99:.1f}",
            "" if row.name == "bare call" else f"{overhead:+.1f}",
            ratio,
            trips,
            commands,
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="samples per row")
    parser.add_argument("--busy", action="store_true", help="run a nice-19 busy loop meanwhile")
    args = parser.parse_args()
    console = Console(width=150)
    RoundTrips.install()
    with busy_loop(args.busy):
        rows = no_redis_rows(args.n)
        server = RedisServer().start()
        try:
            rows += redis_rows(server, max(2_000, args.n // 4))
        finally:
            server.kill()
        rows += redis_down_rows(args.n)
    render(rows, console)


if __name__ == "__main__":
    main()
