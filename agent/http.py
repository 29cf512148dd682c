"""HTTP routes mounted into the LangGraph server (``langgraph.json`` → ``http.app``).

The server owns ``/ok`` and ``/metrics`` (a custom app cannot shadow them), so ours live at
``/livez`` (the process answers), ``/readyz`` (critical dependencies answer: route traffic
here), ``/health`` (every check with details, ``application/health+json``) and
``/support/metrics`` (the product's Prometheus series). Run standalone (any ASGI server),
``/metrics`` serves the same series. The lifespan configures logging and tracing, runs the
scheduled memory sweep and closes the services. Nothing here echoes a secret: URLs are
rendered without passwords and errors pass through redaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agent.maintenance import SweepSchedule
from agent.observability import configure_observability
from agent.redaction import redact_text
from agent.services import Services, aclose_services, get_services
from agent.settings import load_settings
from storage.metrics import REGISTRY

logger = logging.getLogger(__name__)

HEALTH_JSON = "application/health+json"
# RFC draft "Health Check Response Format for HTTP APIs" status words.
HEALTH_STATUS = {"ok": "pass", "degraded": "warn", "down": "fail"}


async def _services() -> Services:
    return await asyncio.to_thread(get_services)


async def _report(request: Request) -> dict[str, Any]:
    """The detailed health report; services that cannot even start make it "down"."""
    try:
        services = await _services()
    except Exception as exc:
        logger.exception("services failed to start")
        error = redact_text(f"{type(exc).__name__}: {exc}")
        return {"status": "down", "checks": {"startup": {"status": "down", "error": error}}}
    report = await services.health()
    schedule: SweepSchedule | None = getattr(request.app.state, "sweep", None)
    if schedule is not None:
        sweep = schedule.report()
        status = "degraded" if sweep["last_outcome"] == "error" else "ok"
        report["checks"]["sweep"] = {"status": status, "critical": False, "details": sweep}
        if status == "degraded" and report["status"] == "ok":
            report["status"] = "degraded"
    return report


async def livez(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    report = await _report(request)
    ready = report["status"] != "down"
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {name: check["status"] for name, check in report["checks"].items()},
        },
        status_code=200 if ready else 503,
    )


def health_json(report: dict[str, Any]) -> dict[str, Any]:
    """The report in the ``application/health+json`` shape (draft-inadarei-api-health-check):
    pass/warn/fail, and each check as a list of one observation of its component."""
    checks = {}
    for name, check in report["checks"].items():
        entry: dict[str, Any] = {
            "status": HEALTH_STATUS[check["status"]],
            "critical": check.get("critical", True),  # ours: does it make the service fail
        }
        if "latency_ms" in check:
            entry.update(observedValue=check["latency_ms"], observedUnit="ms")
        if check.get("error"):
            entry["output"] = check["error"]
        if check.get("details"):
            entry["details"] = check["details"]
        checks[name] = [entry]
    return {
        "status": HEALTH_STATUS[report["status"]],
        "serviceId": "support-agent",
        "description": f"support agent: {report['status']}",
        "checks": checks,
    }


async def health(request: Request) -> JSONResponse:
    report = await _report(request)
    return JSONResponse(
        health_json(report),
        status_code=503 if report["status"] == "down" else 200,
        media_type=HEALTH_JSON,
    )


async def metrics(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    settings = load_settings()
    configure_observability(settings)
    schedule = SweepSchedule(_services, settings.memory.sweep_interval_s)
    app.state.sweep = schedule
    schedule.start()
    try:
        yield
    finally:
        await schedule.stop()
        await aclose_services()


app = Starlette(
    routes=[
        Route("/livez", livez),
        Route("/readyz", readyz),
        Route("/health", health),
        Route("/support/metrics", metrics),
        Route("/metrics", metrics),
    ],
    lifespan=_lifespan,
)
