"""GCRA rate limits per session, per tenant and per tool, checked in one Redis round trip.

GCRA keeps one timestamp per key (the theoretical arrival time), so a Lua script can
check every limit of a call and then consume all of them atomically, on the Redis
server's clock: exact across processes, one EVALSHA, and ``retry_after`` comes back
for free. While Redis is unreachable the same algorithm runs in-process with each
limit divided by the configured replica count.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass

import redis

from storage import ids
from storage.redis import RedisHandle
from tools.errors import RateLimitedError
from tools.resilience import metrics
from tools.resilience.config import DependencyPolicy, RateLimit
from tools.resilience.scope import CallScope

logger = logging.getLogger(__name__)

# KEYS: one per limit. ARGV: interval_us, burst for each key, in order.
# Returns {allowed (1/0), retry_after_us, index of the limit that refused (1-based)}.
GCRA_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local new_tats = {}
local retry = 0
local refused = 0
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local wait = new_tat - burst * interval - now
  if wait > retry then
    retry = wait
    refused = i
  end
  new_tats[i] = new_tat
end
if refused > 0 then return {0, retry, refused} end
for i = 1, #KEYS do
  local ttl_ms = math.floor((new_tats[i] - now) / 1000) + 1
  redis.call('SET', KEYS[i], string.format('%.0f', new_tats[i]), 'PX', ttl_ms)
end
return {1, 0, 0}
"""

_KINDS = ("session", "tenant", "tool")


@dataclass(frozen=True, slots=True)
class _Check:
    kinds: tuple[str, ...]
    keys: tuple[str, ...]
    limits: tuple[RateLimit, ...]

    def argv(self) -> list[int]:
        args: list[int] = []
        for limit in self.limits:
            args += [_interval_us(limit), limit.capacity]
        return args


def _interval_us(limit: RateLimit) -> int:
    return max(1, round(limit.period_s * 1_000_000 / limit.limit))


class LocalGcra:
    """The same GCRA in-process, for no-Redis and degraded modes.

    Integer microseconds on the monotonic clock, as in the Lua script: with floats,
    ``now + interval - interval - now`` can come out a hair above zero and refuse a
    call that is exactly on time.
    """

    def __init__(self, max_keys: int = 100_000) -> None:
        self._tats: dict[str, int] = {}
        self._lock = threading.Lock()
        self._max_keys = max_keys

    def hit(self, keys: tuple[str, ...], limits: tuple[RateLimit, ...]) -> tuple[float, int]:
        """Consume one call on every key, or none; returns (retry_after_s, refused index)."""
        now = time.monotonic_ns() // 1000
        with self._lock:
            new_tats = []
            retry, refused = 0, -1
            for index, (key, limit) in enumerate(zip(keys, limits, strict=True)):
                interval = _interval_us(limit)
                new_tat = max(self._tats.get(key, now), now) + interval
                wait = new_tat - limit.capacity * interval - now
                if wait > retry:
                    retry, refused = wait, index
                new_tats.append(new_tat)
            if refused >= 0:
                return retry / 1_000_000, refused
            if len(self._tats) >= self._max_keys:
                self._tats = {k: v for k, v in self._tats.items() if v > now}
            self._tats.update(zip(keys, new_tats, strict=True))
            return 0.0, -1


class RateLimiter:
    def __init__(self, redis_handle: RedisHandle | None, replicas: int) -> None:
        self._redis = redis_handle
        self._replicas = replicas
        self._local = LocalGcra()
        if redis_handle is not None:
            self._script = redis_handle.sync.register_script(GCRA_LUA)
            self._ascript = redis_handle.register_async_script(GCRA_LUA)

    def _plan(self, name: str, policy: DependencyPolicy, scope: CallScope | None) -> _Check | None:
        parts: list[tuple[str, str, RateLimit]] = []
        if policy.rate_limit_session is not None and scope is not None and scope.session:
            session = ids.key("s", scope.tenant, scope.session)
            parts.append(("session", session, policy.rate_limit_session))
        if policy.rate_limit_tenant is not None and scope is not None:
            parts.append(("tenant", ids.key("t", scope.tenant), policy.rate_limit_tenant))
        if policy.rate_limit_tool is not None:
            parts.append(("tool", "tool", policy.rate_limit_tool))
        if not parts:
            return None
        kinds = tuple(kind for kind, _, _ in parts)
        if self._redis is not None:
            keys = tuple(self._redis.key("rl", name, suffix) for _, suffix, _ in parts)
        else:
            keys = tuple(f"{name}:{suffix}" for _, suffix, _ in parts)
        return _Check(kinds, keys, tuple(limit for _, _, limit in parts))

    def check(self, name: str, policy: DependencyPolicy, scope: CallScope | None) -> None:
        """Consume one call from every limit that applies, or raise ``RateLimitedError``."""
        plan = self._plan(name, policy, scope)
        if plan is None:
            return
        if self._redis is not None and self._redis.available:
            try:
                allowed, retry_us, refused = self._script(keys=plan.keys, args=plan.argv())
            except (redis.RedisError, OSError) as exc:
                self._redis_failed(exc)
            else:
                self._verdict(name, plan, int(allowed), int(retry_us) / 1e6, int(refused) - 1)
                return
        self._check_local(name, plan)

    async def acheck(self, name: str, policy: DependencyPolicy, scope: CallScope | None) -> None:
        plan = self._plan(name, policy, scope)
        if plan is None:
            return
        if self._redis is not None and self._redis.available:
            try:
                allowed, retry_us, refused = await self._ascript(keys=plan.keys, args=plan.argv())
            except (redis.RedisError, OSError) as exc:
                self._redis_failed(exc)
            else:
                self._verdict(name, plan, int(allowed), int(retry_us) / 1e6, int(refused) - 1)
                return
        self._check_local(name, plan)

    def _redis_failed(self, exc: BaseException) -> None:
        metrics.REDIS_ERRORS.labels("rate_limit").inc()
        assert self._redis is not None
        self._redis.mark_unavailable(exc)

    def _check_local(self, name: str, plan: _Check) -> None:
        limits = tuple(limit.divided(self._replicas) for limit in plan.limits)
        retry, refused = self._local.hit(plan.keys, limits)
        self._verdict(name, plan, 0 if refused >= 0 else 1, retry, refused)

    def _verdict(self, name: str, plan: _Check, allowed: int, retry_s: float, index: int) -> None:
        if allowed:
            return
        kind = plan.kinds[index] if 0 <= index < len(plan.kinds) else "tool"
        metrics.REJECTIONS.labels(name, f"rate_limited_{kind}").inc()
        raise RateLimitedError(
            f"too many calls to {name} for this {kind}; retry after {math.ceil(retry_s * 1000)} ms",
            retry_after_s=retry_s,
            dependency=name,
        )
