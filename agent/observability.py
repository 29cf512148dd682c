"""Process-wide logging and tracing set-up, done once by each entry point.

Logs are structured (JSON by default) and pass through redaction, including third-party
loggers routed through the standard library. Traces go to an OTLP endpoint and/or LangSmith
only when configured; with neither, no exporter runs and nothing leaves the machine.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog
from structlog.typing import EventDict, WrappedLogger

from agent.redaction import redact
from agent.settings import ObservabilityConfig


def _redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return {key: redact(value, key if key != "event" else "") for key, value in event_dict.items()}


def configure_logging(config: ObservabilityConfig) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        _redact_event,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if config.log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)
    for noisy in ("httpx", "httpcore", "chromadb", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


def configure_tracing(config: ObservabilityConfig, service_name: str = "support-agent") -> None:
    """Install an OTLP span exporter when an endpoint is configured."""
    if not config.otlp_endpoint:
        return
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=config.otlp_endpoint)))
    trace.set_tracer_provider(provider)


def langsmith_callbacks(config: ObservabilityConfig) -> list[Any]:
    """LangSmith tracer callbacks for graph runs, built from settings rather than env vars."""
    if not config.langsmith_tracing or config.langsmith_api_key is None:
        return []
    from langchain_core.tracers import LangChainTracer
    from langsmith import Client

    client = Client(api_key=config.langsmith_api_key.get_secret_value())
    return [LangChainTracer(project_name=config.langsmith_project, client=client)]
