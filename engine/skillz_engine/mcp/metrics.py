"""``GET /metrics``: the server in Prometheus' text format, through ``prometheus-client``.

Counters and the latency histogram are fed by the engine's call observer (one increment and one
observation per call, no lock of ours). Everything that is a state rather than an event (the
snapshot generation, entries by state, diagnostics, sessions, stateful entries) is read from the
board when Prometheus scrapes, by a custom collector, so it can never disagree with what is
served. Each server has its own registry: two servers in one process (tests) do not share series.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from skillz_engine.engine import CallEvent
    from skillz_engine.mcp.board import StatusBoard

# call latencies: from a built-in answering in microseconds to a build or a slow upstream
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """The registry of one server, its call series, and the collector of its state."""

    def __init__(self, board: StatusBoard) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.board = board
        self.registry = CollectorRegistry(auto_describe=True)
        self.calls = Counter(
            "skillz_calls",
            "Tool calls by tool and outcome (ok or error).",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "skillz_call_duration_seconds",
            "Time from a tools/call request to its result.",
            ["tool"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.registry.register(_StateCollector(board))
        board.observers.append(self.on_call)

    def on_call(self, event: CallEvent) -> None:
        self.calls.labels(event.tool, "ok" if event.error is None else "error").inc()
        self.latency.labels(event.tool).observe(event.ms / 1000)

    def exposition(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _StateCollector:
    """Gauges read from the board at scrape time."""

    def __init__(self, board: StatusBoard) -> None:
        self.board = board

    def describe(self) -> list[Metric]:
        return []  # no fixed description: the families are made per scrape

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        board = self.board
        snap = board.engine.snapshot
        yield GaugeMetricFamily(
            "skillz_snapshot_generation", "Generation of the snapshot served.", snap.generation
        )
        yield CounterMetricFamily("skillz_reloads", "Snapshots swapped in since start.", board.reloads)
        served = GaugeMetricFamily("skillz_served", "What clients can list, by type.", labels=["type"])
        served.add_metric(["tool"], len(snap.tools))
        served.add_metric(["prompt"], len(snap.prompts))
        served.add_metric(["resource"], len(snap.resources))
        yield served
        entries = board.entries(snap)
        by_state = GaugeMetricFamily(
            "skillz_entries", "Entries of the tree by kind and state.", labels=["kind", "state"]
        )
        for (kind, state), n in sorted(Tally((e["kind"], e["state"]) for e in entries).items()):
            by_state.add_metric([kind, state], n)
        yield by_state
        up = GaugeMetricFamily(
            "skillz_stateful_up",
            "1 when a stateful entry (upstream MCP server, service) serves its current version.",
            labels=["kind", "name"],
        )
        for e in entries:
            if e["stateful"]:
                up.add_metric([e["kind"], e["name"]], 1 if e["state"] == "serving" else 0)
        yield up
        diags = GaugeMetricFamily(
            "skillz_diagnostics", "Diagnostics of the tree by severity.", labels=["severity"]
        )
        tally = Tally(d.severity.value for d in snap.diagnostics)
        for severity in ("error", "warning"):
            diags.add_metric([severity], tally.get(severity, 0))
        yield diags
        sessions = GaugeMetricFamily("skillz_sessions", "Clients by protocol era.", labels=["era"])
        for era, n in sorted(Tally(s["era"] for s in board.sessions()).items()):
            sessions.add_metric([era], n)
        yield sessions
