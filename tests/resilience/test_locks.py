"""Job locks: once across processes, non-blocking, expiring, renewed while the job runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from storage.config import RedisConfig
from storage.locks import JobLocks
from storage.redis import RedisHandle
from tests.redis_server import RedisServer

from . import workers


@pytest.fixture(params=["redis", "in-process"])
def locks(request: pytest.FixtureRequest) -> Iterator[JobLocks]:
    if request.param == "in-process":
        yield JobLocks()
        return
    handle = RedisHandle.from_config(
        RedisConfig(
            url=request.getfixturevalue("redis_url"),
            key_prefix=request.getfixturevalue("redis_prefix"),
        )
    )
    yield JobLocks(handle)
    assert handle is not None
    handle.close()


def test_second_acquire_does_not_wait_and_gets_nothing(locks: JobLocks) -> None:
    first = locks.acquire("sweep", ttl_s=5)
    assert first is not None
    started = time.monotonic()
    assert locks.acquire("sweep", ttl_s=5) is None
    assert time.monotonic() - started < 1  # non-blocking
    assert locks.acquire("reindex", ttl_s=5) is not None  # other names are independent
    assert first.release()
    again = locks.acquire("sweep", ttl_s=5)
    assert again is not None
    assert not first.release()  # one object per acquisition: the old one cannot free it
    assert again.owned
    assert again.release()


def test_lock_expires_and_the_old_holder_learns_it(locks: JobLocks) -> None:
    first = locks.acquire("sweep", ttl_s=0.2)
    assert first is not None
    time.sleep(0.3)
    second = locks.acquire("sweep", ttl_s=5)
    assert second is not None
    assert not first.extend()
    assert not first.owned
    assert not first.release()
    assert second.release()


def test_hold_renews_the_lock_while_the_job_runs(locks: JobLocks) -> None:
    with locks.hold("sweep", ttl_s=0.3) as lock:
        assert lock is not None
        time.sleep(0.8)  # well past the ttl: only renewal keeps it
        assert lock.owned
        assert locks.acquire("sweep", ttl_s=1) is None
        with locks.hold("sweep", ttl_s=1) as other:
            assert other is None
    after = locks.acquire("sweep", ttl_s=1)
    assert after is not None
    after.release()


async def test_async_lock_objects_are_per_acquisition(locks: JobLocks) -> None:
    async with locks.ahold("sweep", ttl_s=0.3) as lock:
        assert lock is not None
        assert await locks.aacquire("sweep", ttl_s=1) is None
        await asyncio.sleep(0.5)
        assert lock.owned
    again = await locks.aacquire("sweep", ttl_s=1)
    assert again is not None
    assert await again.release()
    assert not await again.release()


def test_only_one_process_runs_the_job(redis_url: str, redis_prefix: str) -> None:
    ran = workers.run_together(workers.run_locked_job, *[(redis_url, redis_prefix)] * 3)
    assert sorted(ran) == [False, False, True]


def test_unreachable_redis_falls_back_to_an_in_process_lock(redis_server: RedisServer) -> None:
    handle = RedisHandle.from_config(RedisConfig(url=redis_server.url, socket_timeout_s=0.2))
    assert handle is not None
    locks = JobLocks(handle)
    shared = locks.acquire("reindex", ttl_s=5)
    assert shared is not None
    assert shared.shared
    redis_server.kill()
    local = locks.acquire("reindex-2", ttl_s=5)
    assert local is not None
    assert not local.shared  # still exclusive within this process
    assert locks.acquire("reindex-2", ttl_s=5) is None
    assert not handle.available
    assert local.release()
    handle.close()
