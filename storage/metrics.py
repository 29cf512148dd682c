"""The Prometheus registry of the whole product, and the storage layer's own series.

The registry lives in the lowest layer so storage, tools and the agent can all record into
it without importing upwards; it is never the process default registry, so a host's
metrics and ours cannot clash. Labels are bounded sets, never a tenant or user.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

REGISTRY = CollectorRegistry(auto_describe=True)

CACHE = Counter(
    "support_cache_operations",
    "Cache reads and writes, by cache and result: hits, misses, stores, errors.",
    ["cache", "result"],
    registry=REGISTRY,
)
DEDUP = Counter(
    "support_memory_remember",
    "remember() results by dedup tier: new (stored), exact, near, semantic (merged).",
    ["tier"],
    registry=REGISTRY,
)
MEMORIES_REMOVED = Counter(
    "support_memories_removed",
    "Memories hard-deleted, by how: swept (expired or long forgotten) or purged (erasure).",
    ["how"],
    registry=REGISTRY,
)


def remembered(tier: str | None) -> None:
    DEDUP.labels(tier or "new").inc()
