"""OpenTelemetry export for ``serve`` and ``call``, set up from the standard ``OTEL_*`` variables.

Nothing happens unless asked: with ``OTEL_TRACES_EXPORTER=otlp`` (or an ``OTEL_EXPORTER_OTLP_*``
endpoint) the spans of :mod:`skillz_engine.runtimes.tracing` go to an OTLP/HTTP collector; with
``OTEL_TRACES_EXPORTER=console`` they are printed on stderr (never stdout: that is the stdio
protocol). Both need the ``otel`` extra (``pip install 'skillz-engine[otel]'``); without it the
engine says so once and serves untraced. A program that installed its own tracer provider (or
runs under ``opentelemetry-instrument``) is left alone.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def wanted_exporter(environ: Mapping[str, str]) -> str | None:
    """``console``, ``otlp`` or ``None`` (no tracing asked for)."""
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in ("console", "otlp"):
        return exporter
    if exporter in ("", "otlp_proto_http") and any(environ.get(v) for v in ENDPOINT_VARS):
        return "otlp"
    return None


def configure_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """Install a tracer provider when the environment asks for one; returns what was set up, or
    ``None``. A missing ``otel`` extra is reported on stderr, never raised."""
    env = os.environ if environ is None else environ
    exporter = wanted_exporter(env)
    if exporter is None:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
    except ImportError:
        print(
            "skillz-engine: OTEL_* asks for traces, but the otel extra is not installed "
            "(pip install 'skillz-engine[otel]'); serving untraced",
            file=sys.stderr,
        )
        return None
    if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None  # someone (opentelemetry-instrument, an embedding program) already set one up
    span_exporter: SpanExporter
    if exporter == "console":
        span_exporter = ConsoleSpanExporter(out=sys.stderr)
    else:
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        except ImportError:
            print("skillz-engine: the OTLP exporter is not installed (the otel extra); serving untraced",
                  file=sys.stderr)  # fmt: skip
            return None
        span_exporter = OTLPSpanExporter()
    resource = Resource.create({"service.name": env.get("OTEL_SERVICE_NAME", "skillz-engine")})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(span_exporter))
    trace.set_tracer_provider(provider)
    return exporter
