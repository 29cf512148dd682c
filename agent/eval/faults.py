"""``--faults``: make dependencies fail at a rate, underneath the resilience layer.

The failures are injected where a real outage would show up, so the guards, retries and
breakers react exactly as in production: the chat model's HTTP transport refuses a share
of connections (``httpx.ConnectError``, what an unreachable vLLM gives), and the CRM backend
raises ``ConnectionError`` on a share of its reads. Draws come from one seeded generator.
"""

from __future__ import annotations

import dataclasses
import random
import threading
from collections import Counter
from typing import TYPE_CHECKING

import httpx

from tools.crm.backend import CRMBackend, CustomerQuery
from tools.crm.models import Customer, Order
from tools.crm.service import CRMService
from tools.registry import ToolRegistry

if TYPE_CHECKING:
    from agent.services import Services

INJECTABLE = ("llm", "crm")


class FaultSpecError(ValueError):
    """``--faults`` could not be read."""


def parse_faults(spec: str) -> dict[str, float]:
    """``"llm=0.2,crm=0.1"`` → ``{"llm": 0.2, "crm": 0.1}``; rates in [0, 1]."""
    rates: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in INJECTABLE:
            raise FaultSpecError(
                f"--faults: unknown dependency (choose from {', '.join(INJECTABLE)})"
            )
        try:
            rate = float(value)
        except ValueError:
            raise FaultSpecError(f"--faults: {name} needs a rate like {name}=0.2") from None
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"--faults: the rate of {name} must be between 0 and 1")
        rates[name] = rate
    return rates


@dataclasses.dataclass
class Faults:
    """The rates, the seeded generator and how many failures each dependency got."""

    rates: dict[str, float]
    seed: int = 0
    injected: Counter[str] = dataclasses.field(default_factory=Counter)
    _rng: random.Random = dataclasses.field(init=False, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def strikes(self, dependency: str) -> bool:
        """Whether this call of ``dependency`` fails (thread-safe: CRM reads run in threads)."""
        rate = self.rates.get(dependency, 0.0)
        if rate <= 0.0:
            return False
        with self._lock:
            hit = self._rng.random() < rate
            if hit:
                self.injected[dependency] += 1
        return hit


class FlakyTransport(httpx.AsyncBaseTransport):
    """The chat model's HTTP transport, refusing a share of the requests."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.faults.strikes("llm"):
            raise httpx.ConnectError("injected fault: connection refused", request=request)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class FlakyCRMBackend(CRMBackend):
    """A CRM backend whose reads fail at the configured rate; it does not own ``inner``."""

    def __init__(self, inner: CRMBackend, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults
        self.name = inner.name

    def _strike(self) -> None:
        if self.faults.strikes("crm"):
            raise ConnectionError("injected fault: CRM unreachable")

    def find_customers(self, tenant_id: str, query: CustomerQuery, limit: int) -> list[Customer]:
        self._strike()
        return self.inner.find_customers(tenant_id, query, limit)

    async def afind_customers(
        self, tenant_id: str, query: CustomerQuery, limit: int
    ) -> list[Customer]:
        self._strike()
        return await self.inner.afind_customers(tenant_id, query, limit)

    def get_order(self, tenant_id: str, order_id: str) -> Order | None:
        self._strike()
        return self.inner.get_order(tenant_id, order_id)

    async def aget_order(self, tenant_id: str, order_id: str) -> Order | None:
        self._strike()
        return await self.inner.aget_order(tenant_id, order_id)

    def close(self) -> None:
        """The services close the real backend."""

    async def aclose(self) -> None:
        """The services close the real backend."""


def with_faults(services: Services, faults: Faults) -> Services:
    """A view of ``services`` whose CRM (graph and tools alike) goes through the flaky
    backend; everything else is shared. Close the original, never the view."""
    if faults.rates.get("crm", 0.0) <= 0.0:
        return services
    crm = FlakyCRMBackend(services.crm, faults)
    settings = services.settings
    return dataclasses.replace(
        services,
        crm=crm,
        crm_service=CRMService(
            crm,
            services.resilience,
            max_results=settings.crm.max_results,
            access_log=services.access_log,
        ),
        registry=ToolRegistry(dataclasses.replace(services.registry.deps, crm_backend=crm)),
    )
