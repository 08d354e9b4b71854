"""OpenTelemetry tracing through the Temporal SDK's interceptor, on when an OTLP endpoint is configured.

The standard OpenTelemetry variables decide: OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT)
switches tracing on, OTLP over HTTP/protobuf; OTEL_SERVICE_NAME (default `spoorwerk`),
OTEL_RESOURCE_ATTRIBUTES, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_* and the sampler variables work as
documented by OpenTelemetry. Spans are named after the workflow, update, query, signal or activity
(`StartWorkflow:SickLeaveCase`, `HandleUpdate:act`, `RunActivity:notify`) and carry Temporal's ids
only (workflow id `case-<case id>`, run id, update id = action id): no payload is ever put on a span.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache

import temporalio.client
from temporalio.contrib.opentelemetry import TracingInterceptor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
DEFAULT_SERVICE_NAME = "spoorwerk"


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """True when an OTLP endpoint for traces is configured."""
    return any(environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def tracer_provider():
    """A tracer provider that exports to the configured OTLP endpoint in batches (not the global one)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: DEFAULT_SERVICE_NAME}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


@lru_cache(maxsize=1)
def _process_provider():
    return tracer_provider()


def interceptor(provider) -> TracingInterceptor:
    """The SDK's tracing interceptor on `provider`: for clients, and through them their workers."""
    return TracingInterceptor(provider.get_tracer("spoorwerk"))


def interceptors() -> list[temporalio.client.Interceptor]:
    """The client interceptors tracing asks for: none when no OTLP endpoint is configured."""
    if not enabled():
        return []
    return [interceptor(_process_provider())]


def flush(timeout_millis: int = 5000) -> None:
    """Send the spans still buffered (before the process exits)."""
    if enabled() and _process_provider.cache_info().currsize:
        _process_provider().force_flush(timeout_millis)
