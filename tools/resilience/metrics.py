"""Prometheus counters of what the resilience layer did, per dependency.

They live in the product's registry (``storage.metrics.REGISTRY``), which the metrics
endpoint exposes, never in the host's default registry. Unusual events are counted (rejections,
retries, timeouts, transitions); every call adds one latency observation.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from storage.metrics import REGISTRY

STATE_VALUES = {"closed": 0, "half-open": 1, "open": 2}

BREAKER_TRANSITIONS = Counter(
    "resilience_breaker_transitions",
    "Circuit breaker state changes seen by this process.",
    ["dependency", "state"],
    registry=REGISTRY,
)
BREAKER_STATE = Gauge(
    "resilience_breaker_state",
    "Circuit breaker state (0 closed, 1 half-open, 2 open).",
    ["dependency"],
    registry=REGISTRY,
)
REJECTIONS = Counter(
    "resilience_rejections",
    "Calls refused without reaching the dependency.",
    ["dependency", "reason"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "resilience_retries",
    "Attempts retried after a retryable failure.",
    ["dependency"],
    registry=REGISTRY,
)
TIMEOUTS = Counter(
    "resilience_timeouts",
    "Attempts or calls that ran out of time.",
    ["dependency"],
    registry=REGISTRY,
)
FAILURES = Counter(
    "resilience_failures",
    "Failed calls by error code.",
    ["dependency", "code"],
    registry=REGISTRY,
)
CALL_SECONDS = Histogram(
    "resilience_call_seconds",
    "Guarded dependency calls, retries included, by dependency and outcome (ok or error code).",
    ["dependency", "outcome"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
REDIS_AVAILABLE = Gauge(
    "resilience_redis_available",
    "1 while shared state is in Redis, 0 while degraded to in-process state.",
    registry=REGISTRY,
)
REDIS_TRANSITIONS = Counter(
    "resilience_redis_transitions",
    "Changes between shared (Redis) and degraded (in-process) mode.",
    ["available"],
    registry=REGISTRY,
)
REDIS_ERRORS = Counter(
    "resilience_redis_errors",
    "Redis commands that failed or timed out (each one fell back to local state).",
    ["operation"],
    registry=REGISTRY,
)


def record_state(dependency: str, state: str) -> None:
    BREAKER_TRANSITIONS.labels(dependency, state).inc()
    BREAKER_STATE.labels(dependency).set(STATE_VALUES.get(state, -1))


def record_redis_availability(available: bool) -> None:
    REDIS_AVAILABLE.set(1 if available else 0)
    REDIS_TRANSITIONS.labels("true" if available else "false").inc()
