"""``Resilience``: the per-process owner of breakers, bulkheads, limits and the executor.

Built once from settings and passed to every tool and node; ``guard`` is the decorator
they use around each dependency call, sync or async.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from pybreaker import (
    CircuitBreaker,
    CircuitBreakerListener,
    CircuitBreakerState,
    CircuitBreakerStorage,
)

from storage.redis import RedisHandle
from tools.resilience import metrics
from tools.resilience.breaker import Breaker
from tools.resilience.breaker_storage import LocalBreakerStorage
from tools.resilience.breaker_sync import BreakerSync
from tools.resilience.bulkhead import Bulkhead
from tools.resilience.config import DependencyPolicy, ResilienceConfig
from tools.resilience.deadline import TaskFailures
from tools.resilience.executor import Executor
from tools.resilience.guard import Guard
from tools.resilience.rate_limit import RateLimiter
from tools.resilience.redis_breaker import RedisBreakerStorage
from tools.resilience.window import SlidingWindow

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


class _BreakerMetrics(CircuitBreakerListener):
    """Counts and logs each state change once, whichever process caused it."""

    def state_change(
        self,
        cb: CircuitBreaker,
        old_state: CircuitBreakerState | None,
        new_state: CircuitBreakerState,
    ) -> None:
        metrics.record_state(cb.name or "", new_state.name)
        log = logger.info if new_state.name != "open" else logger.warning
        log(
            "circuit breaker %s: %s -> %s",
            cb.name,
            old_state.name if old_state else "-",
            new_state.name,
        )


class Resilience:
    def __init__(self, config: ResilienceConfig, redis: RedisHandle | None = None) -> None:
        self.config = config
        self.redis = redis
        self.executor = Executor(config.executor_max_workers)
        self.limiter = RateLimiter(redis, config.replicas)
        self._breakers: dict[str, Breaker] = {}
        self._bulkheads: dict[str, Bulkhead] = {}
        self._guards: dict[tuple[str, str | None, bool], Guard] = {}
        self._task_failures = TaskFailures()
        self._metrics_listener = _BreakerMetrics()
        self._lock = threading.Lock()
        self._sync: BreakerSync | None = None
        metrics.REDIS_AVAILABLE.set(1 if redis is not None and redis.available else 0)
        if redis is not None:
            self._sync = BreakerSync(
                redis,
                redis.key("cb-events"),
                config.redis_poll_interval_s,
                config.redis_probe_interval_s,
            )
            redis.add_listener(self._on_redis_availability)

    def _on_redis_availability(self, available: bool) -> None:
        metrics.record_redis_availability(available)
        if available and self._sync is not None:
            self._sync.resync_soon()

    # Per-dependency components, created on first use.

    def policy(self, dependency: str) -> DependencyPolicy:
        return self.config.policy(dependency)

    def breaker(self, dependency: str) -> Breaker:
        breaker = self._breakers.get(dependency)
        if breaker is not None:
            return breaker
        with self._lock:
            if dependency not in self._breakers:
                self._breakers[dependency] = self._build_breaker(dependency)
            return self._breakers[dependency]

    def _build_breaker(self, dependency: str) -> Breaker:
        policy = self.policy(dependency)
        window = None
        if policy.failure_rate_threshold is not None or policy.slow_call_threshold_s is not None:
            window = SlidingWindow(
                policy.window_size,
                policy.minimum_calls,
                policy.failure_rate_threshold,
                policy.slow_call_threshold_s,
                policy.slow_call_rate_threshold,
            )
        excluded = frozenset(policy.excluded_codes)
        storage = self._build_storage(dependency)
        breaker = Breaker(
            dependency,
            fail_max=policy.fail_max,
            reset_timeout=policy.reset_timeout_s,
            success_threshold=policy.success_threshold,
            half_open_permits=policy.half_open_permits,
            exclude=[lambda exc: getattr(exc, "code", None) in excluded],
            listeners=[self._metrics_listener],
            state_storage=storage,
            window=window,
            throw_new_error_on_trip=False,
        )
        if isinstance(storage, RedisBreakerStorage):
            storage.attach(breaker)
        return breaker

    def _build_storage(self, dependency: str) -> CircuitBreakerStorage:
        if self.redis is None or self._sync is None:
            return LocalBreakerStorage()
        storage = RedisBreakerStorage(
            self.redis,
            dependency,
            channel=self._sync.channel,
            ttl_s=self.config.key_ttl_s,
        )
        self._sync.register(storage)
        return storage

    def bulkhead(self, dependency: str) -> Bulkhead:
        bulkhead = self._bulkheads.get(dependency)
        if bulkhead is not None:
            return bulkhead
        with self._lock:
            if dependency not in self._bulkheads:
                policy = self.policy(dependency)
                self._bulkheads[dependency] = Bulkhead(
                    dependency, policy.max_concurrent, policy.max_wait_s
                )
            return self._bulkheads[dependency]

    def _guard(self, dependency: str, operation: str | None, retry: bool) -> Guard:
        key = (dependency, operation, retry)
        guard = self._guards.get(key)
        if guard is not None:
            return guard
        breaker, bulkhead = self.breaker(dependency), self.bulkhead(dependency)
        with self._lock:
            guard = self._guards.get(key) or Guard(
                dependency,
                operation,
                policy=self.policy(dependency),
                breaker=breaker,
                bulkhead=bulkhead,
                limiter=self.limiter,
                task_failures=self._task_failures,
                retry=retry,
            )
            self._guards[key] = guard
        return guard

    # Public API.

    def guard(
        self, dependency: str, *, operation: str | None = None, retry: bool = True
    ) -> Callable[[F], F]:
        """Decorate a sync or async function that calls ``dependency``.

        Failures come out as ``ToolError`` subclasses; ``GraphBubbleUp`` passes through.
        """
        guard = self._guard(dependency, operation, retry)

        def decorate(func: F) -> F:
            if inspect.iscoroutinefunction(func):

                @functools.wraps(func)
                async def async_guarded(*args: Any, **kwargs: Any) -> Any:
                    return await guard.acall(func, args, kwargs)

                return async_guarded  # type: ignore[return-value]

            @functools.wraps(func)
            def guarded(*args: Any, **kwargs: Any) -> Any:
                return guard.call(func, args, kwargs)

            return guarded  # type: ignore[return-value]

        return decorate

    def breaker_state(self, dependency: str) -> str:
        """ "closed", "open" or "half-open" (as this process last saw it)."""
        return self.breaker(dependency).current_state

    def status(self) -> dict[str, Any]:
        """Health view: shared-state mode and every breaker seen so far."""
        breakers = {
            name: {
                "state": breaker.current_state,
                "failures": breaker.fail_counter,
                "retry_after_s": round(breaker.retry_after(), 3),
            }
            for name, breaker in sorted(self._breakers.items())
        }
        return {
            "shared_state": self._shared_state(),
            "breakers": breakers,
            "bulkheads": {n: b.in_use for n, b in sorted(self._bulkheads.items())},
            "executor_started": self.executor.started,
        }

    def _shared_state(self) -> str:
        if self.redis is None:
            return "in-process"
        return "redis" if self.redis.available else "degraded"

    def close(self) -> None:
        """Stop the sync thread and the executor; the Redis handle belongs to the caller."""
        if self._sync is not None:
            assert self.redis is not None
            self.redis.remove_listener(self._on_redis_availability)
            self._sync.close()
            self._sync = None
        self.executor.shutdown()

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def __enter__(self) -> Resilience:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> Resilience:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
