"""Circuit-breaker state shared through Redis, with no network I/O on the success path.

Every process keeps a snapshot of each breaker (state, failure count, when it opened,
probes in flight) and decides the common cases locally: closed with no failures →
admit, open and not yet due → refuse. Only events that may change the state run the
Lua script below, which reads Redis ``TIME`` and applies the transition atomically;
every change is published so the other processes' snapshots follow within
milliseconds, and a bounded poll repairs any message lost in between.

pybreaker's own ``CircuitRedisStorage`` does the opposite (two blocking round trips per
success, non-atomic read-compare-write, local whole-second clock, breaker stuck closed
when Redis is down). When Redis is unreachable this storage switches to an in-process
``LocalBreakerStorage`` seeded from the last snapshot, and back when Redis returns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import redis
from pybreaker import STATE_CLOSED, STATE_HALF_OPEN, STATE_OPEN, CircuitBreakerStorage

from storage.redis import RedisHandle
from tools.resilience import metrics
from tools.resilience.breaker_storage import LocalBreakerStorage, rejection

if TYPE_CHECKING:
    from tools.resilience.breaker import Breaker

# KEYS[1]: the breaker's hash. ARGV: op, fail_max, reset_ms, permits, success_threshold,
# ttl_ms, channel, name, [forced state]. Returns the snapshot fields plus `granted`
# (0 refused, 1 admitted as a normal call, 2 admitted as a half-open probe).
BREAKER_LUA = """
local key, op = KEYS[1], ARGV[1]
local fail_max, reset_ms = tonumber(ARGV[2]), tonumber(ARGV[3])
local permits, needed = tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', key, 'st', 'f', 's', 'o', 'p', 'r', 'v')
local st = h[1] or 'closed'
local f, s, o = tonumber(h[2] or 0), tonumber(h[3] or 0), tonumber(h[4] or 0)
local p, r, v = tonumber(h[5] or 0), tonumber(h[6] or 0), tonumber(h[7] or 0)
local granted, dirty, publish = 0, false, false
local function enter(new)
  st, s, p, v = new, 0, 0, v + 1
  if new == 'open' then o = now elseif new == 'closed' then f = 0 else r = now end
  dirty, publish = true, true
end
if op == 'admit' then
  if st == 'closed' then
    granted = 1
  elseif st == 'open' then
    if now >= o + reset_ms then enter('half-open'); p = 1; granted = 2 end
  elseif p < permits then
    p, granted, dirty = p + 1, 2, true
  elseif now >= r + reset_ms then
    p, r, granted, dirty = 1, now, 2, true
  end
elseif op == 'failure' then
  if st == 'closed' then
    f, dirty, publish = f + 1, true, true
    if f >= fail_max then enter('open') end
  end
elseif op == 'probe_failure' then
  if st == 'half-open' then enter('open') end
elseif op == 'probe_success' then
  if st == 'half-open' then
    if p > 0 then p = p - 1 end
    s, dirty = s + 1, true
    if s >= needed then enter('closed') end
  end
elseif op == 'release' then
  if st == 'half-open' and p > 0 then p, dirty = p - 1, true end
elseif op == 'reset' then
  if st == 'closed' and f > 0 then f, dirty, publish = 0, true, true end
elseif op == 'force' then
  enter(ARGV[9])
end
if dirty then
  redis.call('HSET', key, 'st', st, 'f', f, 's', s, 'o', o, 'p', p, 'r', r, 'v', v)
  redis.call('PEXPIRE', key, tonumber(ARGV[6]))
end
if publish then
  redis.call('PUBLISH', ARGV[7], table.concat({ARGV[8], st, f, o, p, r, v, now}, '|'))
end
return {st, f, o, p, r, v, now, granted}
"""

REDIS_ERRORS = (redis.RedisError, OSError)


class RedisBreakerStorage(CircuitBreakerStorage):
    """A snapshot of the shared state plus the script that changes it."""

    def __init__(self, handle: RedisHandle, name: str, *, channel: str, ttl_s: int) -> None:
        super().__init__("redis")
        self.breaker_name = name
        self.key = handle.key("cb", name)
        self._handle = handle
        self._channel = channel
        self._ttl_ms = ttl_s * 1000
        self._script = handle.sync.register_script(BREAKER_LUA)
        self._ascript = handle.register_async_script(BREAKER_LUA)
        self._local = LocalBreakerStorage()
        self._local_outage = -1
        self._breaker: Breaker | None = None
        self._lock = threading.Lock()
        self._state = STATE_CLOSED
        self._failures = 0
        self._opened_ms = 0
        self._probes = 0
        self._round_ms = 0
        self._version = -1
        self._polled_version = -1
        self._offset_ms = 0.0

    def attach(self, breaker: Breaker) -> None:
        self._breaker = breaker

    # pybreaker's storage API (reads come from the snapshot, or local state when degraded).

    @property
    def shared(self) -> bool:
        return self._handle.available

    @property
    def state(self) -> str:
        return self._state if self._handle.available else self._fallback().state

    @state.setter
    def state(self, state: str) -> None:
        if self._breaker is not None:
            self.force(self._breaker, state)

    @property
    def counter(self) -> int:
        return self._failures if self._handle.available else self._fallback().counter

    @property
    def success_counter(self) -> int:
        return 0 if self._handle.available else self._fallback().success_counter

    @property
    def opened_at(self) -> datetime | None:
        if not self._handle.available:
            return self._fallback().opened_at
        if self._state != STATE_OPEN:
            return None
        return datetime.fromtimestamp(self._opened_ms / 1000, UTC)  # Redis server clock

    def increment_counter(self) -> None:
        _refuse("increment_counter")

    def reset_counter(self) -> None:
        _refuse("reset_counter")

    def increment_success_counter(self) -> None:
        _refuse("increment_success_counter")

    def reset_success_counter(self) -> None:
        _refuse("reset_success_counter")

    def _server_now_ms(self) -> float:
        return time.time() * 1000 + self._offset_ms

    def open_remaining(self, reset_timeout: float) -> float:
        if not self._handle.available:
            return self._fallback().open_remaining(reset_timeout)
        if self._state != STATE_OPEN:
            return 0.0
        return max(0.0, (self._opened_ms + reset_timeout * 1000 - self._server_now_ms()) / 1000)

    # Snapshot updates: script results, published messages, polls.

    def apply(self, fields: Sequence[Any], *, polled: bool = False) -> None:
        """Take ``[st, f, o, p, r, v, now, ...]``, ignoring versions older than the snapshot.

        A poll that twice in a row reads an older version is believed: Redis restarted
        (or the key expired) and the history started over.
        """
        version = int(fields[5])
        with self._lock:
            if polled:
                repeated, self._polled_version = self._polled_version == version, version
                if version < self._version and not repeated:
                    return
            elif version < self._version:
                return
            self._state = str(fields[0])
            self._failures = int(fields[1])
            self._opened_ms = int(fields[2])
            self._probes = int(fields[3])
            self._round_ms = int(fields[4])
            self._version = version
            self._offset_ms = int(fields[6]) - time.time() * 1000
        self._notice()

    def _notice(self) -> None:
        breaker = self._breaker
        if breaker is not None and breaker._state.name != self.state:
            breaker.notify_transition(breaker._state.name, self.state)

    def _fallback(self) -> LocalBreakerStorage:
        """The in-process state for the current outage, seeded from the last snapshot.

        Seeded lazily by whichever thread first needs it, keyed by the handle's outage
        count: an eager seed from the availability listener could land after this
        process had already tripped the local breaker, and reset it to closed.
        """
        outage = self._handle.outages
        if self._local_outage != outage:
            reset = self._breaker.reset_timeout if self._breaker is not None else 0.0
            with self._lock:
                if self._local_outage != outage:
                    open_for = (self._opened_ms + reset * 1000 - self._server_now_ms()) / 1000
                    self._local.restore(self._state, self._failures, max(0.0, open_for), reset)
                    self._local_outage = outage
        return self._local

    def resync(self) -> None:
        """Redis is back (called from the sync thread): share what happened meanwhile."""
        cb = self._breaker
        if cb is None:
            return
        local_open = self._local_outage == self._handle.outages and self._local.state == STATE_OPEN
        result = self._script(
            keys=[self.key], args=self._args(cb, "force" if local_open else "read", STATE_OPEN)
        )
        with self._lock:
            self._version = -1
        self.apply(result)

    # Operations.

    def _args(self, cb: Breaker, op: str, forced: str = "") -> list[Any]:
        return [
            op,
            cb.fail_max,
            int(cb.reset_timeout * 1000),
            cb.half_open_permits,
            cb.success_threshold,
            self._ttl_ms,
            self._channel,
            self.breaker_name,
            forced,
        ]

    def _run(self, cb: Breaker, op: str, forced: str = "") -> list[Any] | None:
        try:
            result = self._script(keys=[self.key], args=self._args(cb, op, forced))
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return None
        self.apply(result)
        return result

    async def _arun(self, cb: Breaker, op: str, forced: str = "") -> list[Any] | None:
        try:
            result = await self._ascript(keys=[self.key], args=self._args(cb, op, forced))
        except REDIS_ERRORS as exc:
            self._failed(exc)
            return None
        self.apply(result)
        return result

    def _failed(self, exc: BaseException) -> None:
        metrics.REDIS_ERRORS.labels("breaker").inc()
        self._handle.mark_unavailable(exc)

    def _decide_locally(self, cb: Breaker) -> bool | None:
        """Admission without I/O when the snapshot is conclusive; None means ask Redis."""
        if self._state == STATE_CLOSED:
            return False
        now = self._server_now_ms()
        reset_ms = cb.reset_timeout * 1000
        if self._state == STATE_OPEN and now < self._opened_ms + reset_ms:
            raise rejection(cb, (self._opened_ms + reset_ms - now) / 1000)
        if (
            self._state == STATE_HALF_OPEN
            and self._probes >= cb.half_open_permits
            and now < self._round_ms + reset_ms
        ):
            raise rejection(cb, (self._round_ms + reset_ms - now) / 1000)
        return None

    def _granted(self, cb: Breaker, result: list[Any]) -> bool:
        granted = int(result[7])
        if granted == 0:
            reset_ms = cb.reset_timeout * 1000
            since = int(result[2]) if str(result[0]) == STATE_OPEN else int(result[4])
            raise rejection(cb, max(0.0, (since + reset_ms - int(result[6])) / 1000))
        return granted == 2

    def admit(self, cb: Breaker) -> bool:
        if not self._handle.available:
            return self._fallback().admit(cb)
        local = self._decide_locally(cb)
        if local is not None:
            return local
        result = self._run(cb, "admit")
        return self._fallback().admit(cb) if result is None else self._granted(cb, result)

    async def aadmit(self, cb: Breaker) -> bool:
        if not self._handle.available:
            return self._fallback().admit(cb)
        local = self._decide_locally(cb)
        if local is not None:
            return local
        result = await self._arun(cb, "admit")
        return self._fallback().admit(cb) if result is None else self._granted(cb, result)

    def success_needs_io(self, probe: bool) -> bool:
        return self._handle.available and (probe or self._failures > 0)

    def _success_op(self, probe: bool) -> str | None:
        if probe:
            return "probe_success"
        return "reset" if self._failures else None

    def on_success(self, cb: Breaker, probe: bool) -> None:
        if self._handle.available:
            op = self._success_op(probe)
            if op is None or self._run(cb, op) is not None:
                return
        self._fallback().on_success(cb, probe)

    async def aon_success(self, cb: Breaker, probe: bool) -> None:
        if self._handle.available:
            op = self._success_op(probe)
            if op is None or await self._arun(cb, op) is not None:
                return
        self._fallback().on_success(cb, probe)

    def on_failure(self, cb: Breaker, probe: bool) -> None:
        if self._handle.available and self._run(cb, _failure_op(probe)) is not None:
            return
        self._fallback().on_failure(cb, probe)

    async def aon_failure(self, cb: Breaker, probe: bool) -> None:
        if self._handle.available and await self._arun(cb, _failure_op(probe)) is not None:
            return
        self._fallback().on_failure(cb, probe)

    def release(self, cb: Breaker, probe: bool) -> None:
        if not probe or (self._handle.available and self._run(cb, "release") is not None):
            return
        self._fallback().release(cb, probe)

    async def arelease(self, cb: Breaker, probe: bool) -> None:
        if not probe or (self._handle.available and await self._arun(cb, "release") is not None):
            return
        self._fallback().release(cb, probe)

    def force(self, cb: Breaker, state: str) -> None:
        if self._handle.available and self._run(cb, "force", state) is not None:
            return
        self._fallback().force(cb, state)


def _failure_op(probe: bool) -> str:
    return "probe_failure" if probe else "failure"


def _refuse(method: str) -> None:
    """pybreaker's per-counter writes would race across processes; the Breaker never calls them."""
    raise TypeError(f"{method}() is not supported: shared transitions go through one Lua script")
