"""Locks for jobs that must run once across processes (memory sweep, re-index).

- Non-blocking: a job that finds the lock taken skips this round instead of queueing.
- Explicit expiry: a crashed holder never blocks the job forever.
- Extended while running: ``hold()`` renews the expiry in the background, and the job
  can check ``lock.owned`` to stop early if the lock was lost.
- One lock object per acquisition (redis-py ``Lock`` with ``thread_local=False``): a
  shared lock object would let one task release another task's lock.
Without Redis (embedded mode) or while it is unreachable, the lock is in-process.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import redis
import redis.asyncio.lock
import redis.lock
from redis.exceptions import LockError

from storage.redis import RedisHandle

logger = logging.getLogger(__name__)

_REDIS_ERRORS = (redis.RedisError, OSError)


class _LocalLocks:
    """Process-wide table of in-process locks: name -> (token, expiry on monotonic clock)."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, name: str, token: str, ttl_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._held.get(name)
            if held is not None and held[1] > now:
                return False
            self._held[name] = (token, now + ttl_s)
            return True

    def extend(self, name: str, token: str, ttl_s: float) -> bool:
        now = time.monotonic()
        with self._lock:
            held = self._held.get(name)
            if held is None or held[0] != token or held[1] <= now:
                return False
            self._held[name] = (token, now + ttl_s)
            return True

    def release(self, name: str, token: str) -> bool:
        with self._lock:
            held = self._held.get(name)
            if held is None or held[0] != token:
                return False
            del self._held[name]
            return held[1] > time.monotonic()


_LOCAL = _LocalLocks()


class JobLock:
    """One acquisition of a named lock; release it once, extend it while working."""

    def __init__(
        self, name: str, ttl_s: float, *, redis_lock: redis.lock.Lock | None = None
    ) -> None:
        self.name = name
        self.ttl_s = ttl_s
        self._redis_lock = redis_lock
        self._token = uuid.uuid4().hex
        self._lost = False
        self._released = False

    @property
    def shared(self) -> bool:
        """True when other processes see this lock (it lives in Redis)."""
        return self._redis_lock is not None

    @property
    def owned(self) -> bool:
        return not (self._lost or self._released)

    def _acquire_local(self) -> bool:
        return _LOCAL.acquire(self.name, self._token, self.ttl_s)

    def extend(self) -> bool:
        """Reset the expiry to ``ttl_s`` from now; False (and ``owned`` False) if lost."""
        if not self.owned:
            return False
        try:
            if self._redis_lock is not None:
                self._redis_lock.extend(self.ttl_s, replace_ttl=True)
                return True
        except LockError:
            self._lost = True
            return False
        except _REDIS_ERRORS as exc:
            logger.warning("lock %s: could not extend (%s)", self.name, type(exc).__name__)
            return False
        if not _LOCAL.extend(self.name, self._token, self.ttl_s):
            self._lost = True
        return not self._lost

    def release(self) -> bool:
        """Give the lock back; False if it had already expired or been taken over."""
        if self._released:
            return False
        self._released = True
        if self._redis_lock is None:
            return _LOCAL.release(self.name, self._token)
        try:
            self._redis_lock.release()
        except LockError:
            return False
        except _REDIS_ERRORS as exc:
            logger.warning(
                "lock %s: release failed, it expires by itself (%s)", self.name, type(exc).__name__
            )
            return False
        return True


class AsyncJobLock:
    """The asyncio twin of ``JobLock`` (redis.asyncio, never blocking the loop)."""

    def __init__(
        self, name: str, ttl_s: float, *, redis_lock: redis.asyncio.lock.Lock | None = None
    ) -> None:
        self.name = name
        self.ttl_s = ttl_s
        self._redis_lock = redis_lock
        self._token = uuid.uuid4().hex
        self._lost = False
        self._released = False

    @property
    def shared(self) -> bool:
        return self._redis_lock is not None

    @property
    def owned(self) -> bool:
        return not (self._lost or self._released)

    async def extend(self) -> bool:
        if not self.owned:
            return False
        try:
            if self._redis_lock is not None:
                await self._redis_lock.extend(self.ttl_s, replace_ttl=True)
                return True
        except LockError:
            self._lost = True
            return False
        except _REDIS_ERRORS as exc:
            logger.warning("lock %s: could not extend (%s)", self.name, type(exc).__name__)
            return False
        if not _LOCAL.extend(self.name, self._token, self.ttl_s):
            self._lost = True
        return not self._lost

    async def release(self) -> bool:
        if self._released:
            return False
        self._released = True
        if self._redis_lock is None:
            return _LOCAL.release(self.name, self._token)
        try:
            await self._redis_lock.release()
        except LockError:
            return False
        except _REDIS_ERRORS as exc:
            logger.warning(
                "lock %s: release failed, it expires by itself (%s)", self.name, type(exc).__name__
            )
            return False
        return True


class JobLocks:
    """Hands out ``JobLock`` objects, in Redis when it is configured and reachable."""

    def __init__(self, redis_handle: RedisHandle | None = None) -> None:
        self._redis = redis_handle

    def _use_redis(self) -> bool:
        return self._redis is not None and self._redis.available

    def acquire(self, name: str, ttl_s: float) -> JobLock | None:
        """Take the lock now or return None (never waits)."""
        if self._use_redis():
            assert self._redis is not None
            redis_lock = self._redis.sync.lock(
                self._redis.key("lock", name), timeout=ttl_s, blocking=False, thread_local=False
            )
            try:
                return JobLock(name, ttl_s, redis_lock=redis_lock) if redis_lock.acquire() else None
            except _REDIS_ERRORS as exc:
                self._redis.mark_unavailable(exc)
        lock = JobLock(name, ttl_s)
        return lock if lock._acquire_local() else None

    async def aacquire(self, name: str, ttl_s: float) -> AsyncJobLock | None:
        if self._use_redis():
            assert self._redis is not None
            redis_lock = self._redis.aio.lock(
                self._redis.key("lock", name), timeout=ttl_s, blocking=False, thread_local=False
            )
            try:
                if await redis_lock.acquire():
                    return AsyncJobLock(name, ttl_s, redis_lock=redis_lock)
                return None
            except _REDIS_ERRORS as exc:
                self._redis.mark_unavailable(exc)
        lock = AsyncJobLock(name, ttl_s)
        return lock if _LOCAL.acquire(name, lock._token, ttl_s) else None

    @contextmanager
    def hold(self, name: str, ttl_s: float) -> Iterator[JobLock | None]:
        """``with locks.hold("sweep", 60) as lock:`` — None if another holder has it.

        While the block runs, a thread renews the expiry every ``ttl_s / 3``.
        """
        lock = self.acquire(name, ttl_s)
        if lock is None:
            yield None
            return
        stop = threading.Event()

        def renew() -> None:
            while not stop.wait(ttl_s / 3):
                if not lock.extend() and not lock.owned:
                    logger.warning("lock %s was lost while the job ran", name)
                    return

        renewer = threading.Thread(target=renew, name=f"lock-{name}", daemon=True)
        renewer.start()
        try:
            yield lock
        finally:
            stop.set()
            renewer.join()
            lock.release()

    @asynccontextmanager
    async def ahold(self, name: str, ttl_s: float) -> AsyncIterator[AsyncJobLock | None]:
        lock = await self.aacquire(name, ttl_s)
        if lock is None:
            yield None
            return

        async def renew() -> None:
            while True:
                await asyncio.sleep(ttl_s / 3)
                if not await lock.extend() and not lock.owned:
                    logger.warning("lock %s was lost while the job ran", name)
                    return

        renewer = asyncio.create_task(renew())
        try:
            yield lock
        finally:
            renewer.cancel()
            await asyncio.gather(renewer, return_exceptions=True)
            await lock.release()
