"""OpenTelemetry spans around tool calls, nested calls included: on when tracing is set up.

A span ``tools/call <name>`` wraps every run of a tool (:func:`~skillz_engine.runtimes.base.run_tool`),
with the tool's name and kind and whether the result is an error. Calls a tool makes back into the
engine (a script's nested ``tools/call``, pipeline steps, ``call_tool``) run inside it, so they
become its children, and the SDK's own request span is its parent.

Tracing costs nothing until someone sets it up: the OpenTelemetry API is only asked when another
part of the process already imported it (the MCP SDK does), and spans are made only once a real
tracer provider is installed (by the embedding program, by ``opentelemetry-instrument``, or by
``serve`` from the ``OTEL_*`` variables when the ``otel`` extra is installed: see
:mod:`skillz_engine.cli.telemetry`). Until then the check is one dictionary lookup.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from skillz_engine.tree.model import ToolDef, ToolResult

TRACER_NAME = "skillz_engine"


def _tracer() -> Any | None:
    """The tracer to use, or ``None`` while no tracer provider is installed."""
    if "opentelemetry.trace" not in sys.modules:
        return None
    from opentelemetry import trace

    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        return None
    from skillz_engine import __version__

    return trace.get_tracer(TRACER_NAME, __version__)


class CallSpan:
    """The result setter of one traced call (a no-op when tracing is off)."""

    def __init__(self, span: Any | None) -> None:
        self.span = span

    def result(self, result: ToolResult) -> None:
        if self.span is None:
            return
        self.span.set_attribute("mcp.tool.is_error", result.is_error)
        if result.is_error:
            from opentelemetry.trace import Status, StatusCode

            self.span.set_status(Status(StatusCode.ERROR, result.text_content()[:200]))


@contextlib.contextmanager
def traced_call(tool: ToolDef) -> Iterator[CallSpan]:
    """A span around one run of ``tool`` when tracing is on; nothing otherwise."""
    tracer = _tracer()
    if tracer is None:
        yield CallSpan(None)
        return
    attributes = {"mcp.method.name": "tools/call", "mcp.tool.name": tool.name, "skillz.tool.kind": tool.kind}
    with tracer.start_as_current_span(f"tools/call {tool.name}", attributes=attributes) as span:
        yield CallSpan(span)
