"""Code run in separate processes (multiprocessing "spawn") by the shared-state tests.

Each worker builds its own RedisHandle and Resilience, exactly as a separate server
worker would, and reports what it observed through a queue.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
import time
from collections.abc import Callable
from multiprocessing.queues import Queue
from typing import Any

from storage.config import RedisConfig
from storage.locks import JobLocks
from storage.redis import RedisHandle
from tools.errors import CircuitOpenError, RateLimitedError
from tools.resilience import Resilience, ResilienceConfig, call_scope

SPAWN = multiprocessing.get_context("spawn")


def run_together(
    target: Callable[..., None], *argsets: tuple[Any, ...], lead_s: float = 0.3
) -> list[Any]:
    """One spawned process per argument tuple, all running ``target``; see ``run_jobs``."""
    return run_jobs([(target, args) for args in argsets], lead_s=lead_s)


def run_jobs(
    jobs: list[tuple[Callable[..., None], tuple[Any, ...]]], lead_s: float = 0.3
) -> list[Any]:
    """Start one spawned process per job, release them together, collect their reports.

    Each worker reports "ready" once built; all then start ``lead_s`` after the slowest
    one was ready, so slow process start-up never skews what the test measures.
    Reports come back in arrival order.
    """
    out, go, start = SPAWN.Queue(), SPAWN.Event(), SPAWN.Value("d", 0.0)
    processes = [
        SPAWN.Process(target=target, args=(*args, go, start, out)) for target, args in jobs
    ]
    for process in processes:
        process.start()
    for _ in processes:
        assert out.get(timeout=60) == "ready"
    start.value = time.time() + lead_s
    go.set()
    results = [out.get(timeout=30) for _ in processes]
    for process in processes:
        process.join(10)
        assert process.exitcode == 0
    return results


def build(redis_url: str, prefix: str, policy: dict[str, Any]) -> Resilience:
    handle = RedisHandle.from_config(
        RedisConfig(url=redis_url, key_prefix=prefix, socket_timeout_s=0.5, connect_timeout_s=0.5)
    )
    config = ResilienceConfig.model_validate(
        {"default": {"max_attempts": 1, **policy}, "redis_poll_interval_s": 0.2}
    )
    return Resilience(config, handle)


def _close(resilience: Resilience) -> None:
    resilience.close()
    assert resilience.redis is not None
    resilience.redis.close()


def trip(
    redis_url: str, prefix: str, policy: dict[str, Any], go: Any, start: Any, out: Queue
) -> None:
    """Fail until the breaker opens; report when it did (wall clock) and the error seen."""
    resilience = build(redis_url, prefix, policy)

    @resilience.guard("crm")
    def failing() -> None:
        raise ConnectionError("crm down")

    time.sleep(max(0.0, _start_time(out, go, start) - time.time()))
    errors = set()
    while resilience.breaker_state("crm") != "open":
        try:
            failing()
        except Exception as exc:
            errors.add(type(exc).__name__)
    out.put(("opened", time.time(), sorted(errors)))
    _close(resilience)


def watch(
    redis_url: str, prefix: str, policy: dict[str, Any], go: Any, start: Any, out: Queue
) -> None:
    """Call a healthy function until the breaker refuses; report when that happened."""
    resilience = build(redis_url, prefix, policy)
    calls = 0

    @resilience.guard("crm")
    def healthy() -> str:
        nonlocal calls
        calls += 1
        return "ok"

    healthy()
    start_at = _start_time(out, go, start)
    refused_at = None
    while time.time() < start_at + 10:
        try:
            healthy()
        except CircuitOpenError:
            refused_at = time.time()
            break
        time.sleep(0.001)
    out.put(("refused", refused_at, calls))
    _close(resilience)


def _start_time(out: Queue, go: Any, start: Any) -> float:
    """Say we are ready, then wait for the common start instant the parent picks."""
    out.put("ready")
    go.wait(30)
    return float(start.value)


def probe_crowd(
    redis_url: str,
    prefix: str,
    policy: dict[str, Any],
    callers: int,
    go: Any,
    start: Any,
    out: Queue,
) -> None:
    """``callers`` threads call the half-open breaker at the same instant."""
    resilience = build(redis_url, prefix, policy)
    while resilience.breaker_state("crm") != "open":  # wait for the first snapshot
        time.sleep(0.01)
    start_at = _start_time(out, go, start)
    ran = 0
    refused = 0
    lock = threading.Lock()

    @resilience.guard("crm")
    def probe() -> None:
        nonlocal ran
        with lock:
            ran += 1
        time.sleep(0.5)  # keep the probe in flight while the others arrive

    barrier = threading.Barrier(callers)

    def caller() -> None:
        nonlocal refused
        resilience.breaker_state("crm")
        barrier.wait()
        time.sleep(max(0.0, start_at - time.time()))
        try:
            probe()
        except CircuitOpenError:
            with lock:
                refused += 1

    threads = [threading.Thread(target=caller) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put((ran, refused))
    _close(resilience)


def hammer(
    redis_url: str,
    prefix: str,
    policy: dict[str, Any],
    seconds: float,
    go: Any,
    start: Any,
    out: Queue,
) -> None:
    """Call a rate-limited function as fast as possible for ``seconds`` from the start."""
    resilience = build(redis_url, prefix, policy)
    start_at = _start_time(out, go, start)
    stop_at = start_at + seconds
    allowed = refused = 0

    @resilience.guard("search", retry=False)
    async def search() -> None:
        return None

    async def run() -> None:
        nonlocal allowed, refused
        with call_scope(tenant="acme", session="s-1"):
            await asyncio.sleep(max(0.0, start_at - time.time()))
            while time.time() < stop_at:
                try:
                    await search()
                    allowed += 1
                except RateLimitedError:
                    refused += 1
                    await asyncio.sleep(0.001)  # keep asking, without starving the others

    asyncio.run(run())
    out.put((allowed, refused))
    _close(resilience)


def run_locked_job(redis_url: str, prefix: str, go: Any, start: Any, out: Queue) -> None:
    """Try to run the "sweep" job; report whether this process got to run it."""
    handle = RedisHandle.from_config(RedisConfig(url=redis_url, key_prefix=prefix))
    locks = JobLocks(handle)
    time.sleep(max(0.0, _start_time(out, go, start) - time.time()))
    with locks.hold("sweep", ttl_s=5) as lock:
        if lock is not None:
            time.sleep(1)  # long enough for the other processes to try
        out.put(lock is not None)
    assert handle is not None
    handle.close()
