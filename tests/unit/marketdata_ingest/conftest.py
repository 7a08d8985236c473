"""Fixtures shared by the ingestor CLI tests."""

from __future__ import annotations

import pytest

from tradeplane.runtime.marketdata import ingest_cli
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[IngestorConfig]:
    """The configurations ``tradeplane ingest`` would have run, instead of running them."""
    seen: list[IngestorConfig] = []

    async def capture(config: IngestorConfig, metrics_port: int) -> None:
        del metrics_port
        seen.append(config)

    monkeypatch.setattr(ingest_cli, "_serve", capture)
    return seen
