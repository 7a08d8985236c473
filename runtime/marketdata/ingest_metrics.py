"""Prometheus metrics of one ingestor: frames by stream, parse errors by kind, duplicates, gaps detected
and healed, heal latency, lag per stream, lease changes and rows pruned by retention.

Each ingestor owns its registry (not the process-global one), so tests and the benchmark can run
several pipelines in one process and read each one's counters without cross-talk.
"""

from __future__ import annotations

from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, start_http_server

from tradeplane.runtime.marketdata.gaps import GapMetrics


class IngestMetrics:
    """Counters are cumulative; ``lag_seconds`` is now minus the stream's last exchange time."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        reg = self.registry
        self.frames = Counter(
            "tradeplane_ingest_frames_total", "Data frames by stream", ["stream"], registry=reg
        )
        self.parse_errors = Counter(
            "tradeplane_ingest_parse_errors_total", "Frames refused, by kind", ["kind"], registry=reg
        )
        self.duplicates = Counter(
            "tradeplane_ingest_duplicates_total",
            "Duplicate events dropped, by stream",
            ["stream"],
            registry=reg,
        )
        self.rows = Counter(
            "tradeplane_ingest_rows_total", "Rows committed, by table", ["table"], registry=reg
        )
        self.pruned = Counter(
            "tradeplane_ingest_pruned_rows_total",
            "Rows deleted by retention, by table (labels as for rows committed)",
            ["table"],
            registry=reg,
        )
        self.gaps = GapMetrics(reg)
        """Gap events by stream, interval and source, counted once where they are recorded."""
        self.lag = Gauge(
            "tradeplane_ingest_lag_seconds", "Now minus the last exchange time, by stream", ["stream"],
            registry=reg,
        )  # fmt: skip
        self.lease_changes = Counter(
            "tradeplane_ingest_lease_changes_total", "Lease transitions, by event", ["event"], registry=reg
        )
        self.leader = Gauge("tradeplane_ingest_leader", "1 while this process holds the lease", registry=reg)
        self.reconnects = Counter(
            "tradeplane_ingest_reconnects_total", "WebSocket reconnections seen", registry=reg
        )
        self.silences = Counter(
            "tradeplane_ingest_stream_silences_total",
            "Topics found silent beyond their cadence (each report replaces the connection), by stream",
            ["stream"],
            registry=reg,
        )
        self.resyncs = Counter(
            "tradeplane_ingest_depth_resyncs_total", "incrDepth continuity breaks", registry=reg
        )

    def value(self, name: str, **labels: str) -> float:
        """One sample's current value (0 when never touched): what tests and status readers use."""
        sample = self.registry.get_sample_value(name, labels or None)
        return 0.0 if sample is None else sample

    def serve(self, port: int, address: str = "127.0.0.1") -> WSGIServer | None:
        """Expose ``/metrics`` on a daemon thread (the caller may ``shutdown()`` it); port 0 disables it."""
        if not port:
            return None
        server, _thread = start_http_server(port, addr=address, registry=self.registry)
        return server
