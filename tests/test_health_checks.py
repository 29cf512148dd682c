"""The health-check runner: one hung or failing dependency never hangs or hides the report."""

from __future__ import annotations

import asyncio
from typing import Any

from agent.health import Degraded, HealthCheck, run_checks


async def _ok() -> dict[str, Any]:
    return {"pool": {"size": 5}}


async def _hang() -> dict[str, Any]:
    await asyncio.sleep(60)
    return {}


async def _boom() -> dict[str, Any]:
    raise ConnectionError("refused by db.internal for admin@example.com")


async def _degraded() -> dict[str, Any]:
    raise Degraded("redis unreachable: local fallback", {"mode": "local"})


async def test_all_ok() -> None:
    report = await run_checks([HealthCheck("database", _ok)])
    assert report["status"] == "ok"
    assert report["checks"]["database"]["details"] == {"pool": {"size": 5}}


async def test_hung_critical_dependency_is_down_within_the_timeout() -> None:
    report = await asyncio.wait_for(
        run_checks([HealthCheck("database", _hang), HealthCheck("vectors", _ok)], timeout_s=0.05),
        timeout=5,
    )
    assert report["status"] == "down"
    assert report["checks"]["database"]["status"] == "down"
    assert "no answer within" in report["checks"]["database"]["error"]
    assert report["checks"]["vectors"]["status"] == "ok"


async def test_non_critical_failure_degrades_and_errors_are_redacted() -> None:
    report = await run_checks(
        [HealthCheck("database", _ok), HealthCheck("redis", _boom, critical=False)]
    )
    assert report["status"] == "degraded"
    assert "admin@example.com" not in report["checks"]["redis"]["error"]
    assert report["checks"]["redis"]["error"].startswith("ConnectionError")


async def test_degraded_check_reports_its_reason() -> None:
    report = await run_checks([HealthCheck("redis", _degraded, critical=False)])
    assert report["status"] == "degraded"
    assert report["checks"]["redis"]["details"] == {"mode": "local"}
