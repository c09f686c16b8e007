"""OpenTelemetry spans per tool call, nested calls as children, checked with the SDK's in-memory
exporter (the `otel` extra's SDK, installed with the test extra)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from skillz_engine.cli.telemetry import wanted_exporter
from skillz_engine.engine import Engine, EngineOptions
from tests.mcp_helpers import write

pytestmark = pytest.mark.anyio
EXPORTER = InMemorySpanExporter()
RUN_CLI = "import sys; from skillz_engine.cli.main import main; sys.exit(main(sys.argv[1:]))"


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The process-wide provider (OpenTelemetry allows setting it once), emptied for each test."""
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        trace.set_tracer_provider(provider)
    EXPORTER.clear()
    yield EXPORTER
    EXPORTER.clear()


async def test_a_pipeline_call_and_its_steps_are_nested_spans(
    tmp_path: Path, spans: InMemorySpanExporter
) -> None:
    """`tools/call pipe` is the parent of one span per step; a failing step marks its span ERROR."""
    write(tmp_path / "tools" / "up" / "manifest.yaml", "kind: command\ndescription: up\nargv: [echo, UP]\n")
    write(tmp_path / "tools" / "bad" / "manifest.yaml", 'kind: command\ndescription: bad\nargv: ["false"]\n')
    write(
        tmp_path / "pipelines" / "pipe" / "manifest.yaml",
        "kind: pipeline\ndescription: p\nsteps:\n  - id: a\n    tool: up\n  - id: b\n    tool: up\n",
    )
    async with Engine.open([tmp_path], EngineOptions(watch=False)) as engine:
        result = await engine.call("pipe", {})
        assert not result.is_error, result.text_content()
        failed = await engine.call("bad", {})
        assert failed.is_error
    finished = {s.name: s for s in spans.get_finished_spans() if s.name != "tools/call bad"}
    by_name = [s for s in spans.get_finished_spans() if s.name == "tools/call up"]
    pipe = finished["tools/call pipe"]
    assert len(by_name) == 2
    assert all(s.parent is not None and s.parent.span_id == pipe.context.span_id for s in by_name)
    assert pipe.attributes is not None and pipe.attributes["skillz.tool.kind"] == "pipeline"
    bad = next(s for s in spans.get_finished_spans() if s.name == "tools/call bad")
    assert bad.status.status_code == trace.StatusCode.ERROR and bad.attributes is not None
    assert bad.attributes["mcp.tool.is_error"] is True


def test_the_environment_decides_the_exporter() -> None:
    assert wanted_exporter({}) is None
    assert wanted_exporter({"OTEL_TRACES_EXPORTER": "console"}) == "console"
    assert wanted_exporter({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}) == "otlp"
    assert wanted_exporter({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "x"}) is None


def test_call_prints_its_span_on_stderr_when_asked(tmp_path: Path) -> None:
    """`OTEL_TRACES_EXPORTER=console skillz-engine call ...`: the result on stdout, the span on stderr."""
    write(tmp_path / "tools" / "echo" / "manifest.yaml", "kind: command\ndescription: e\nargv: [echo, hi]\n")
    env = {**os.environ, "OTEL_TRACES_EXPORTER": "console"}
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, "call", "echo", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "hi"
    assert '"name": "tools/call echo"' in done.stderr and '"skillz.tool.kind": "command"' in done.stderr
