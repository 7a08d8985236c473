"""``tradeplane ingest`` argument handling: every refusal happens before anything connects, with a
message naming the bad flag; the flags a running ingestor is started with become its configuration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from tradeplane.cli import app
from tradeplane.runtime.marketdata.ingest_cli import build_config
from tradeplane.runtime.marketdata.tables import MarketKey

pytestmark = pytest.mark.unit

FLAGS = ["--market", "desk/bingx", "--symbol", "XAUT-USDT", "--rest-url", "http://h", "--ws-url", "ws://h"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give --instrument NS/NAME"),
        (["--instrument", "no-namespace"], "give --instrument NS/NAME"),
        (["--market", "desk/bingx", "--symbol", "XAUT-USDT"], "give --instrument"),
        ([*FLAGS, "--backfill-from", "2026-01-01T00:00:00"], "needs a time zone"),
        ([*FLAGS, "--interval", "7m"], "7m"),
        ([*FLAGS, "--lease-ttl", "100ms"], "at least one second"),
        ([*FLAGS[:3], "xaut", *FLAGS[4:]], "xaut"),
    ],
)
def test_bad_arguments_are_refused_before_running(argv: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["ingest", *argv])
    assert result.exit_code == 2
    plain = " ".join(result.output.replace("│", " ").split())  # the error panel wraps long messages
    assert message in plain


def test_flags_become_the_configuration() -> None:
    config = build_config(
        instrument=None,
        kubeconfig=None,
        flags=("desk/bingx", "XAUT-USDT", "http://h", "ws://h"),
        streams={
            "intervals": ("1m", "5m"),
            "trades": False,
            "backfill_from": datetime(2026, 1, 1, tzinfo=UTC),
            "lookback": timedelta(hours=2),
        },
        process={"lease_ttl": timedelta(seconds=2), "journal": True},
    )
    assert config.key == MarketKey("desk/bingx", "XAUT-USDT")
    assert config.topics() == ["XAUT-USDT@kline_1m", "XAUT-USDT@kline_5m", "XAUT-USDT@markPrice"]
    assert (config.lease_ttl, config.lookback) == (timedelta(seconds=2), timedelta(hours=2))
