"""Prometheus metrics of the operator: reconciles, their latency and errors, per kind."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

REGISTRY = CollectorRegistry()
RECONCILES = Counter(
    "tradeplane_reconciles_total",
    "Reconcile passes by kind and result",
    ["kind", "result"],
    registry=REGISTRY,
)
RECONCILE_SECONDS = Histogram(
    "tradeplane_reconcile_duration_seconds",
    "Wall time of one reconcile pass",
    ["kind"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
RECONCILE_ERRORS = Counter(
    "tradeplane_reconcile_errors_total", "Reconcile passes that raised, by kind and error", ["kind", "error"],
    registry=REGISTRY,
)  # fmt: skip
AUDIT_RECORDS = Counter(
    "tradeplane_audit_records_total", "Audit records appended, by kind", ["kind"], registry=REGISTRY
)


def serve(address: str, port: int) -> None:
    """Expose ``/metrics``; port 0 disables it (tests run many operators side by side)."""
    if port:
        start_http_server(port, addr=address, registry=REGISTRY)


VENUE_PAYLOAD_INVALID = Counter(
    "tradeplane_venue_payload_invalid_total",
    "Exchange payloads that failed validation and were quarantined as invalid snapshots, by kind",
    ["kind"],
    registry=REGISTRY,
)
VENUE_REQUEST_FAILURES = Counter(
    "tradeplane_venue_sync_failures_total",
    "Venue syncs that failed, by reason",
    ["reason"],
    registry=REGISTRY,
)
