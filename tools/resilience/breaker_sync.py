"""The background thread that keeps every shared breaker's snapshot fresh.

Pub/sub delivers each transition within milliseconds; a bounded poll (one pipeline
of TIME + HMGET for all breakers) repairs anything missed; while Redis is unreachable
the thread probes it and, once it answers, shares what happened in the meantime.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import redis
from pybreaker import STATE_CLOSED

from storage.redis import RedisHandle
from tools.resilience import metrics
from tools.resilience.redis_breaker import REDIS_ERRORS, RedisBreakerStorage

logger = logging.getLogger(__name__)


class BreakerSync:
    """Background thread: pub/sub for changes, a bounded poll, and Redis health probes.

    A thread (not a task) so sync and async users share it and no event loop is
    required; it only ever talks to Redis with the handle's short timeouts.
    """

    def __init__(
        self, handle: RedisHandle, channel: str, poll_interval_s: float, probe_interval_s: float
    ) -> None:
        self._handle = handle
        self.channel = channel
        self._poll_interval = poll_interval_s
        self._probe_interval = probe_interval_s
        self._storages: dict[str, RedisBreakerStorage] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._resync = threading.Event()
        self._pubsub: redis.client.PubSub | None = None
        self._thread = threading.Thread(target=self._run, name="breaker-sync", daemon=True)
        self._thread.start()

    def register(self, storage: RedisBreakerStorage) -> None:
        with self._lock:
            self._storages[storage.breaker_name] = storage

    def resync_soon(self) -> None:
        """Redis is back: share what happened meanwhile, from this thread.

        Nothing is needed when it goes away: each storage seeds its fallback itself.
        """
        self._resync.set()

    def _snapshot(self) -> list[RedisBreakerStorage]:
        with self._lock:
            return list(self._storages.values())

    def _run(self) -> None:
        next_poll = 0.0
        while not self._stop.is_set():
            if not self._handle.available:
                self._drop_pubsub()
                if self._stop.wait(self._probe_interval):
                    return
                self._handle.probe()
                continue
            if self._resync.is_set():
                self._resync.clear()
                self._recover()
            try:
                self._pump(next_poll)
                if time.monotonic() >= next_poll:
                    self.poll()
                    next_poll = time.monotonic() + self._poll_interval
            except Exception as exc:
                # Whatever broke (Redis, or the handle closed under us), keep the
                # process on local state and let the probe decide when to come back.
                metrics.REDIS_ERRORS.labels("breaker_sync").inc()
                self._handle.mark_unavailable(exc)
                self._drop_pubsub()

    def _pump(self, next_poll: float) -> None:
        if self._pubsub is None:
            self._pubsub = self._handle.sync.pubsub(ignore_subscribe_messages=True)
            self._pubsub.subscribe(self.channel)
        wait = max(0.0, min(self._poll_interval, next_poll - time.monotonic()))
        message = self._pubsub.get_message(timeout=wait)
        while message is not None:
            self._dispatch(message)
            message = self._pubsub.get_message(timeout=0.0)

    def _dispatch(self, message: dict[str, Any]) -> None:
        fields = str(message.get("data", "")).split("|")
        if len(fields) != 8:
            return
        storage = self._storages.get(fields[0])
        if storage is not None:
            storage.apply(fields[1:])

    def poll(self) -> None:
        """Read every breaker in one pipeline (plus TIME for the clock offset)."""
        storages = self._snapshot()
        if not storages:
            return
        pipe = self._handle.sync.pipeline(transaction=False)
        pipe.time()
        for storage in storages:
            pipe.hmget(storage.key, "st", "f", "o", "p", "r", "v")
        (seconds, micros), *rows = pipe.execute()
        now_ms = int(seconds) * 1000 + int(micros) // 1000
        for storage, row in zip(storages, rows, strict=True):
            state, failures, opened, probes, round_at, version = row
            storage.apply(
                [
                    state or STATE_CLOSED,
                    failures or 0,
                    opened or 0,
                    probes or 0,
                    round_at or 0,
                    version or 0,
                    now_ms,
                ],
                polled=True,
            )

    def _recover(self) -> None:
        try:
            for storage in self._snapshot():
                storage.resync()
        except REDIS_ERRORS as exc:
            metrics.REDIS_ERRORS.labels("breaker_sync").inc()
            self._handle.mark_unavailable(exc)

    def _drop_pubsub(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        if pubsub is not None:
            try:
                pubsub.close()
            except Exception as exc:
                logger.debug("closing a broken pub/sub connection failed: %s", type(exc).__name__)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._drop_pubsub()
