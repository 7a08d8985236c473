"""The market-data plane: ingestors with sequence integrity, gap events, REST replay and backfill,
fenced leases, and the storage they write to (migration 0004)."""
