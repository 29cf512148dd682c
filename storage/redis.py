"""One Redis connection handle per process, with short timeouts and a degradation flag.

redis-py's defaults (seconds-long timeouts, retries with backoff) turn a Redis outage into
a minute of latency per call. Shared state (breakers, rate limits, locks, cache) is an
optimisation over in-process state, so every client here fails fast instead: tens of
milliseconds, no retry. ``available`` records whether Redis answered last time; callers
skip Redis while it is down and a background probe flips it back when Redis returns.

redis.asyncio connections belong to the event loop that opened them, so ``aio`` is one
client per running loop (a CLI that calls ``asyncio.run`` twice would otherwise get
"attached to a different loop" errors from the second run). Async Lua scripts, which the
breakers and rate limits run on every guarded call, go through ``storage.redis_scripts``
instead: one pipelined connection per loop, about half redis.asyncio's cost per call.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.retry import Retry

from storage.config import RedisConfig
from storage.per_loop import PerLoop
from storage.redis_scripts import AsyncScriptRunner, Endpoint, ScriptChannels

logger = logging.getLogger(__name__)

AvailabilityListener = Callable[[bool], None]


class RedisHandle:
    """Sync and asyncio clients sharing one configuration and one availability state."""

    def __init__(
        self,
        sync: redis.Redis,
        aio_factory: Callable[[], redis.asyncio.Redis],
        scripts: ScriptChannels,
        *,
        key_prefix: str,
        socket_timeout_s: float,
    ) -> None:
        self.sync = sync
        self.scripts = scripts
        self._aio: PerLoop[redis.asyncio.Redis] = PerLoop(aio_factory)
        self.key_prefix = key_prefix
        self.socket_timeout_s = socket_timeout_s
        self._available = True
        self._outages = 0
        self._lock = threading.Lock()
        self._listeners: list[AvailabilityListener] = []

    @classmethod
    def from_config(cls, config: RedisConfig) -> RedisHandle | None:
        """Build the handle, or None when no Redis URL is configured (in-process mode)."""
        if not config.url:
            return None
        password = config.password.get_secret_value() if config.password else None
        options = {
            "password": password,
            "socket_timeout": config.socket_timeout_s,
            "socket_connect_timeout": config.connect_timeout_s,
            "retry_on_timeout": False,
            "health_check_interval": 0,
            "decode_responses": True,
        }
        url = config.url
        # First, so an option the script channel cannot honour fails here, at start-up.
        scripts = ScriptChannels(
            Endpoint.from_url(
                url,
                password=password,
                connect_timeout_s=config.connect_timeout_s,
                socket_timeout_s=config.socket_timeout_s,
            )
        )
        sync = redis.Redis.from_url(url, retry=Retry(NoBackoff(), 0), **options)

        def aio_factory() -> redis.asyncio.Redis:
            return redis.asyncio.Redis.from_url(
                url, retry=redis.asyncio.retry.Retry(NoBackoff(), 0), **options
            )

        return cls(
            sync,
            aio_factory,
            scripts,
            key_prefix=config.key_prefix,
            socket_timeout_s=config.socket_timeout_s,
        )

    @property
    def aio(self) -> redis.asyncio.Redis:
        """The asyncio client of the running event loop (created on first use there)."""
        return self._aio.get()

    def register_async_script(self, script: str) -> AsyncScriptRunner:
        """``await runner(keys=..., args=...)`` on any loop, over that loop's script channel."""
        return self.scripts.script(script)

    def key(self, *parts: str) -> str:
        """A key inside this deployment's namespace, so tenants of one Redis never collide."""
        return ":".join((self.key_prefix, *parts))

    @property
    def available(self) -> bool:
        return self._available

    @property
    def outages(self) -> int:
        """How many times Redis went away; tells fallback state which outage it belongs to."""
        return self._outages

    def add_listener(self, listener: AvailabilityListener) -> None:
        """Call ``listener(available)`` on every transition (not on every failure)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: AvailabilityListener) -> None:
        with self._lock:
            self._listeners.remove(listener)

    def mark_unavailable(self, exc: BaseException) -> None:
        """Record that a command failed; logs and notifies once per transition."""
        self._set(False, exc)

    def mark_available(self) -> None:
        self._set(True, None)

    def probe(self) -> bool:
        """PING once (bounded by the socket timeout) and update ``available``."""
        try:
            self.sync.ping()
        except (redis.RedisError, OSError) as exc:
            self.mark_unavailable(exc)
            return False
        self.mark_available()
        return True

    def _set(self, available: bool, exc: BaseException | None) -> None:
        with self._lock:
            if self._available == available:
                return
            if not available:
                self._outages += 1  # before the flag, so whoever sees it down sees this outage
            self._available = available
            listeners = list(self._listeners)
        if available:
            logger.warning("redis reachable again: shared state resumes")
        else:
            logger.warning(
                "redis unreachable (%s): falling back to in-process state",
                type(exc).__name__,
            )
        for listener in listeners:
            try:
                listener(available)
            except Exception:
                logger.exception("redis availability listener failed")

    def close(self) -> None:
        self.sync.close()
        self.sync.connection_pool.disconnect()

    async def aclose_loop(self) -> None:
        """Close this loop's asyncio client and script channel; the sync pool stays open
        (threads such as the breaker sync may still use it until they are stopped).

        Clients of loops that already ended went with them; they cannot be awaited here.
        (Script channels close themselves when ``asyncio.run`` shuts their loop down.)
        """
        client = self._aio.pop()
        if client is not None:
            await client.aclose()
        await self.scripts.aclose()

    async def aclose(self) -> None:
        """Close this loop's async clients, then the sync pool."""
        await self.aclose_loop()
        self.close()
