"""Process-wide logging and tracing set-up, done once by every entry point.

The CLI, ``Services.open``/``get_services`` (Python callers, the graph under ``langgraph
dev``) and the HTTP app all call ``configure_observability``; the first call configures,
later calls with the same settings do nothing. An application that configured logging or
tracing itself keeps its handlers and its tracer provider: we only add redaction to them.

Logs are structured (JSON, or readable console lines on a terminal), carry the correlation
ids bound by ``agent.run_telemetry`` plus the current trace id, and pass through the one
redaction rule set (``agent.redaction``). Spans are redacted by the same rules before any
exporter sees them; an OTLP exporter runs only when an endpoint is configured. LangSmith is
switched on through its own standard variables.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Iterator
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from pydantic import BaseModel, SecretStr
from structlog.typing import EventDict, WrappedLogger

from agent.redaction import redact, redact_text, register_secrets
from agent.run_telemetry import correlation_ids
from agent.settings import ObservabilityConfig, Settings
from agent.span_redaction import RedactingSpanExporter

HANDLER_NAME = "support-agent"
SERVICE_NAME = "support-agent"
# Our packages follow SUPPORT_OBSERVABILITY__LOG_LEVEL even under a host's logging set-up.
OUR_LOGGERS = ("agent", "graphs", "tools", "storage")
# Libraries that print request bodies, SQL parameters or prompts at DEBUG.
CHATTY_LIBRARIES = (
    "httpx",
    "httpcore",
    "openai",
    "langchain",
    "langsmith",
    "chromadb",
    "urllib3",
    "aiosqlite",
    "psycopg",
)

_lock = threading.Lock()
_configured: tuple[ObservabilityConfig, bool] | None = None


def configure_observability(settings: Settings, *, owns_process: bool = True) -> None:
    """Configure logs, traces and LangSmith for this process; idempotent.

    ``owns_process`` is False for a library caller (``Services.create`` inside someone's
    application): no tracer provider is installed then unless an OTLP endpoint asks for
    one, since OpenTelemetry accepts a process's provider only once and it is the host's.
    """
    global _configured
    register_secrets(_secrets(settings))
    tracing = owns_process or bool(settings.observability.otlp_endpoint)
    with _lock:
        if _configured in ((settings.observability, tracing), (settings.observability, True)):
            return
        _configured = (settings.observability, tracing)
        configure_logging(settings.observability)
        if tracing:
            configure_tracing(settings.observability)
        configure_langsmith(settings.observability)


def _secrets(model: BaseModel) -> Iterator[SecretStr]:
    """Every configured secret, so redaction hides it wherever a library echoes it."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value
        elif isinstance(value, BaseModel):
            yield from _secrets(value)


def _redact_event(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    return {key: redact(value, key if key != "event" else "") for key, value in event_dict.items()}


def _add_correlation(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    for key, value in correlation_ids().items():
        event_dict.setdefault(key, value)
    span = trace.get_current_span()
    context = span.get_span_context()
    if context.is_valid and span.is_recording():
        event_dict.setdefault("trace_id", format(context.trace_id, "032x"))
        event_dict.setdefault("span_id", format(context.span_id, "016x"))
    return event_dict


class RedactionFilter(logging.Filter):
    """Redacts records on a handler we do not own (the host application's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact_text(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


def _renderer(config: ObservabilityConfig) -> Any:
    console = config.log_format == "console" or (
        config.log_format == "auto" and sys.stderr.isatty()
    )
    if console:
        return structlog.dev.ConsoleRenderer(colors=False)
    return structlog.processors.JSONRenderer()


def configure_logging(config: ObservabilityConfig) -> None:
    root = logging.getLogger()
    foreign = [handler for handler in root.handlers if handler.get_name() != HANDLER_NAME]
    if foreign:
        # The host configured logging: keep its handlers and format, add redaction only.
        for handler in foreign:
            if not any(isinstance(f, RedactionFilter) for f in handler.filters):
                handler.addFilter(RedactionFilter())
    else:
        _install_handler(config)
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(config.log_level)
    floor = logging.getLevelName(config.library_log_level)
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(max(floor, logging.getLevelName(config.log_level)))
    # SQLAlchemy prints every statement at INFO: asked for, it gets INFO, never by default.
    logging.getLogger("sqlalchemy").setLevel(max(floor, logging.WARNING))


def _install_handler(config: ObservabilityConfig) -> None:
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_correlation,
        structlog.processors.format_exc_info,
        _redact_event,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler()
    handler.set_name(HANDLER_NAME)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                _renderer(config),
            ],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.log_level)


def configure_tracing(config: ObservabilityConfig) -> None:
    """A tracer provider (ours unless the host set one) and OTLP export when configured.

    The provider is installed even without an exporter so every log line of a turn carries
    a trace id to correlate on; spans then end in memory and go nowhere.
    """
    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider(resource=Resource.create({"service.name": SERVICE_NAME}))
        trace.set_tracer_provider(provider)
        provider = trace.get_tracer_provider()
    if config.otlp_endpoint and isinstance(provider, TracerProvider):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        export_spans(provider, OTLPSpanExporter(endpoint=config.otlp_endpoint))


def export_spans(provider: TracerProvider, exporter: SpanExporter) -> None:
    """Send finished spans to ``exporter``, redacted by the same rules as logs."""
    provider.add_span_processor(BatchSpanProcessor(RedactingSpanExporter(exporter)))


def configure_langsmith(config: ObservabilityConfig) -> None:
    """LangSmith's own variables, so every LangChain run in the process is traced there.

    Values the environment already sets win: an operator's explicit choice is kept.
    """
    if not config.langsmith_tracing:
        return
    os.environ.setdefault("LANGSMITH_TRACING", "true")
    os.environ.setdefault("LANGSMITH_PROJECT", config.langsmith_project)
    if config.langsmith_api_key is not None:
        os.environ.setdefault("LANGSMITH_API_KEY", config.langsmith_api_key.get_secret_value())
