"""Spans pass through the log redaction rules before any exporter sees them.

Exception events quote messages from drivers and providers (SQL, HTTP errors) that can hold
customer data or keys; attributes come from third-party instrumentation we do not control.
Redacting at export covers every span in the process with the one rule set.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Status
from opentelemetry.util.types import Attributes

from agent.redaction import redact, redact_text


def _attributes(attributes: Attributes) -> Attributes:
    if not attributes:
        return attributes
    return {key: _value(key, value) for key, value in attributes.items()}


def _value(key: str, value: object) -> object:
    redacted = redact(value, key)
    # OTel attribute values are scalars or homogeneous sequences; redact keeps the shape.
    return tuple(redacted) if isinstance(value, tuple) else redacted


def redact_span(span: ReadableSpan) -> ReadableSpan:
    """A copy of ``span`` with attributes, event attributes and status text redacted."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_attributes(span.attributes),
        events=[
            Event(event.name, _attributes(event.attributes), event.timestamp)
            for event in span.events
        ],
        links=span.links,
        kind=span.kind,
        status=Status(span.status.status_code, redact_text(span.status.description))
        if span.status.description
        else span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class RedactingSpanExporter(SpanExporter):
    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([redact_span(span) for span in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)
