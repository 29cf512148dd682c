"""Health checks: liveness says the process runs, readiness says it can serve a turn,
the detailed report says why not.

Each check runs concurrently under its own timeout, so one hung dependency cannot hang the
probe that orchestrators use to route traffic. A non-critical failure (Redis, which the
resilience layer degrades around) leaves the process ready but "degraded".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from agent.redaction import redact_text

Status = Literal["ok", "degraded", "down"]
CheckFn = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class HealthCheck:
    name: str
    run: CheckFn
    critical: bool = True


@dataclass
class CheckResult:
    name: str
    status: Status
    critical: bool
    latency_ms: float
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Degraded(Exception):
    """Raised by a check whose dependency works in a reduced mode."""

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(reason)
        self.details = details or {}


async def _run_one(check: HealthCheck, timeout_s: float) -> CheckResult:
    started = time.perf_counter()
    status: Status = "ok"
    details: dict[str, Any] = {}
    error: str | None = None
    try:
        async with asyncio.timeout(timeout_s):
            details = await check.run()
    except Degraded as exc:
        status, details, error = "degraded", exc.details, str(exc)
    except TimeoutError:
        status, error = "down", f"no answer within {timeout_s:g}s"
    except Exception as exc:  # a health probe reports every failure, whatever its type
        status, error = "down", redact_text(f"{type(exc).__name__}: {exc}")
    latency = round((time.perf_counter() - started) * 1000, 2)
    return CheckResult(check.name, status, check.critical, latency, details, error)


async def run_checks(checks: Sequence[HealthCheck], timeout_s: float = 2.0) -> dict[str, Any]:
    """Run every check; overall status is down if a critical one is down."""
    results = await asyncio.gather(*(_run_one(c, timeout_s) for c in checks))
    if any(r.status == "down" and r.critical for r in results):
        overall: Status = "down"
    elif any(r.status != "ok" for r in results):
        overall = "degraded"
    else:
        overall = "ok"
    return {
        "status": overall,
        "checks": {
            r.name: {
                "status": r.status,
                "critical": r.critical,
                "latency_ms": r.latency_ms,
                **({"error": r.error} if r.error else {}),
                **({"details": r.details} if r.details else {}),
            }
            for r in results
        },
    }
