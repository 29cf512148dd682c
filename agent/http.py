"""HTTP routes mounted into the LangGraph server (``langgraph.json`` → ``http.app``).

The server keeps ``/ok`` for itself, so probes live at ``/livez`` (the process answers),
``/readyz`` (critical dependencies answer: route traffic here), ``/health`` (every check with
details, for operators) and ``/metrics`` (Prometheus). Nothing here echoes a secret: URLs are
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

from agent.redaction import redact_text
from agent.services import aclose_services, get_services
from tools.resilience.metrics import REGISTRY

logger = logging.getLogger(__name__)


async def _report() -> dict[str, Any]:
    """The detailed health report; services that cannot even start make it "down"."""
    try:
        services = await asyncio.to_thread(get_services)
    except Exception as exc:
        logger.exception("services failed to start")
        error = redact_text(f"{type(exc).__name__}: {exc}")
        return {"status": "down", "checks": {"startup": {"status": "down", "error": error}}}
    return await services.health()


async def livez(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(_request: Request) -> JSONResponse:
    report = await _report()
    ready = report["status"] != "down"
    return JSONResponse(
        {
            "status": "ready" if ready else "not ready",
            "checks": {name: check["status"] for name, check in report["checks"].items()},
        },
        status_code=200 if ready else 503,
    )


async def health(_request: Request) -> JSONResponse:
    report = await _report()
    return JSONResponse(report, status_code=503 if report["status"] == "down" else 200)


async def metrics(_request: Request) -> Response:
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


@contextlib.asynccontextmanager
async def _lifespan(_app: Starlette) -> AsyncIterator[None]:
    yield
    await aclose_services()


app = Starlette(
    routes=[
        Route("/livez", livez),
        Route("/readyz", readyz),
        Route("/health", health),
        Route("/metrics", metrics),
    ],
    lifespan=_lifespan,
)
