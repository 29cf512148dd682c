"""A small result cache with versioned entries, in Redis or in process.

Every entry is stamped with the version of the data it was computed from; a writer (the
knowledge-base ingest) bumps the version after it changes the data, and a reader treats an
entry with another stamp as a miss. So a re-ingest invalidates every cached answer at once
without scanning keys, and a search that raced with the ingest cannot store an answer that
outlives it: it stamps the version it read *before* computing.

The version has up to two parts, both shared between processes:
- a Redis counter (``INCR``), read in the same ``MGET`` as the entry: a hit is one round trip;
- an optional version file beside the data (embedded Chroma), rewritten atomically with a
  fresh token; a CLI ingest in another process invalidates a server's in-process cache, and
  Redis entries written before an ingest that could not reach Redis are still refused.

Redis is used while the ``RedisHandle`` reports it available, the bounded in-process TTL cache
otherwise. Cache failures are logged and counted and turn into a miss; they never fail the
caller's operation. Values are strings (the caller serialises).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis

from storage import metrics
from storage.version_file import VersionFile

if TYPE_CHECKING:
    from storage.redis import RedisHandle

logger = logging.getLogger(__name__)

_CACHE_ERRORS = (redis.RedisError, OSError, ValueError)


class CacheInvalidationError(RuntimeError):
    """A version bump failed: cached answers may outlive the change until their TTL."""


@dataclass(frozen=True)
class Lookup:
    """A cache read: ``value`` on a hit; ``version`` to stamp a store with (None: do not store)."""

    value: str | None
    version: str | None


class _LocalTTL:
    """Bounded LRU with per-entry expiry; a lock makes it safe from threads and the loop."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._items: OrderedDict[str, tuple[float, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str, version: str) -> str | None:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            expires, stamp, value = item
            if stamp != version or expires <= time.monotonic():
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return value

    def set(self, key: str, version: str, value: str, ttl_s: float) -> None:
        with self._lock:
            self._items[key] = (time.monotonic() + ttl_s, version, value)
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class VersionedCache:
    """One namespace of cached strings; see the module docstring for the versioning."""

    def __init__(
        self,
        name: str,
        *,
        redis: RedisHandle | None = None,
        ttl_s: float = 300.0,
        max_entries: int = 1024,
        version_file: Path | None = None,
    ) -> None:
        self.name = name
        self.redis = redis
        self.ttl_s = ttl_s
        self._local = _LocalTTL(max_entries)
        self._file = VersionFile(version_file) if version_file is not None else None
        self._local_version = 0
        self._counts = {"hits": 0, "misses": 0, "stores": 0, "errors": 0}
        self._lock = threading.Lock()
        if redis is not None:
            self._version_key = redis.key("cache", name, "version")
            self._entry_prefix = redis.key("cache", name, "entry") + ":"

    # -- helpers -----------------------------------------------------------------------------

    def _count(self, name: str) -> None:
        metrics.CACHE.labels(self.name, name).inc()
        with self._lock:
            self._counts[name] += 1

    def _failed(self, operation: str, exc: BaseException) -> None:
        self._count("errors")
        logger.warning(
            "cache %s failed (%s); continuing without the cache",
            operation,
            type(exc).__name__,
            extra={"cache": self.name},
        )
        if self.redis is not None and isinstance(exc, redis.RedisError):
            self.redis.mark_unavailable(exc)

    @staticmethod
    def _digest(key: str) -> str:
        return hashlib.blake2b(key.encode("utf-8"), digest_size=16).hexdigest()

    def _use_redis(self) -> bool:
        return self.redis is not None and self.redis.available

    def _file_token(self) -> str:
        return self._file.read() if self._file is not None else "-"

    def _local_get(self, key: str) -> Lookup:
        version = f"L{self._local_version}|{self._file_token()}"
        value = self._local.get(self._digest(key), version)
        self._count("hits" if value is not None else "misses")
        return Lookup(value, version)

    def _from_redis(self, version: Any, entry: Any) -> Lookup:
        stamp = f"{version or 0}|{self._file_token()}"
        if entry is not None:
            entry_stamp, _, value = str(entry).partition("\n")
            if entry_stamp == stamp:
                self._count("hits")
                return Lookup(value, stamp)
        self._count("misses")
        return Lookup(None, stamp)

    def _redis_entry(self, version: str, value: str) -> str:
        return f"{version}\n{value}"

    def _ttl_ms(self) -> int:
        return max(1, int(self.ttl_s * 1000))

    # -- sync API ----------------------------------------------------------------------------

    def get(self, key: str) -> Lookup:
        try:
            if not self._use_redis():
                return self._local_get(key)
            assert self.redis is not None
            version, entry = self.redis.sync.mget(
                [self._version_key, self._entry_prefix + self._digest(key)]
            )
            return self._from_redis(version, entry)
        except _CACHE_ERRORS as exc:
            self._failed("get", exc)
            return Lookup(None, None)

    def set(self, key: str, value: str, version: str | None) -> None:
        if version is None:
            return
        try:
            if version.startswith("L"):
                self._local.set(self._digest(key), version, value, self.ttl_s)
            else:
                assert self.redis is not None
                self.redis.sync.set(
                    self._entry_prefix + self._digest(key),
                    self._redis_entry(version, value),
                    px=self._ttl_ms(),
                )
            self._count("stores")
        except _CACHE_ERRORS as exc:
            self._failed("set", exc)

    def bump(self) -> None:
        """Invalidate every entry; raises ``CacheInvalidationError`` if a shared part failed."""
        with self._lock:
            self._local_version += 1
        problems = []
        if self._file is not None:
            try:
                self._file.bump()
            except OSError as exc:
                problems.append(f"version file: {type(exc).__name__}")
        if self.redis is not None:
            try:
                self.redis.sync.incr(self._version_key)
            except redis.RedisError as exc:
                self._failed("bump", exc)
                problems.append(f"redis: {type(exc).__name__}")
        if problems:
            raise CacheInvalidationError(
                f"cache {self.name!r} not invalidated ({'; '.join(problems)}); "
                f"cached answers may be served for up to {self.ttl_s:g}s"
            )

    # -- async API ---------------------------------------------------------------------------

    async def aget(self, key: str) -> Lookup:
        try:
            if not self._use_redis():
                return self._local_get(key)
            assert self.redis is not None
            version, entry = await self.redis.aio.mget(
                [self._version_key, self._entry_prefix + self._digest(key)]
            )
            return self._from_redis(version, entry)
        except _CACHE_ERRORS as exc:
            self._failed("get", exc)
            return Lookup(None, None)

    async def aset(self, key: str, value: str, version: str | None) -> None:
        if version is None:
            return
        if version.startswith("L"):
            self.set(key, value, version)
            return
        try:
            assert self.redis is not None
            await self.redis.aio.set(
                self._entry_prefix + self._digest(key),
                self._redis_entry(version, value),
                px=self._ttl_ms(),
            )
            self._count("stores")
        except _CACHE_ERRORS as exc:
            self._failed("set", exc)

    def stats(self) -> dict[str, Any]:
        """This instance's counters (Prometheus' ``CACHE`` has the process totals by cache
        name): what one knowledge base's cache did, e.g. in its tests."""
        with self._lock:
            counts = dict(self._counts)
        counts["backend"] = "redis" if self._use_redis() else "memory"
        counts["local_entries"] = len(self._local)
        return counts
