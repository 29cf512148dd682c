"""Resilience for every dependency call: deadline, rate limit, retry, breaker, bulkhead.

Usage::

    resilience = Resilience(settings.resilience, RedisHandle.from_config(settings.redis))

    @resilience.guard("crm", operation="lookup_customer")
    async def lookup(customer_id: str) -> dict: ...

    with call_scope(tenant="acme", session="s-1"):
        await lookup("c-42")
"""

from tools.resilience.breaker import Breaker
from tools.resilience.breaker_storage import LocalBreakerStorage
from tools.resilience.bulkhead import Bulkhead
from tools.resilience.config import DependencyPolicy, RateLimit, ResilienceConfig
from tools.resilience.deadline import budget, remaining
from tools.resilience.decorator import Resilience
from tools.resilience.executor import Executor
from tools.resilience.metrics import REGISTRY
from tools.resilience.scope import CallScope, call_scope, current_scope
from tools.resilience.window import SlidingWindow

__all__ = [
    "REGISTRY",
    "Breaker",
    "Bulkhead",
    "CallScope",
    "DependencyPolicy",
    "Executor",
    "LocalBreakerStorage",
    "RateLimit",
    "Resilience",
    "ResilienceConfig",
    "SlidingWindow",
    "budget",
    "call_scope",
    "current_scope",
    "remaining",
]
