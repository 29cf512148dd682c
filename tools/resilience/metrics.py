"""Prometheus counters of what the resilience layer did, per dependency.

They live in a registry of their own (``REGISTRY``) that the metrics endpoint exposes, so
importing this module twice in tests or embedding the tool pack in another app never
clashes with the host's default registry. Only unusual events are counted (rejections,
retries, timeouts, transitions): the success path stays free of metric work.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

REGISTRY = CollectorRegistry(auto_describe=True)

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
