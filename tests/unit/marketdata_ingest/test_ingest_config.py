"""What one ingestor ingests: flags and resources give the same value; invalid settings are refused
before any connection is made; the metrics read back what was counted and serve it over HTTP."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml

from tradeplane.crds.instrument import Instrument
from tradeplane.crds.venue import Venue
from tradeplane.reconcilers.ingest import ingestor_config
from tradeplane.runtime.marketdata.ingest_cli import build_config, load_from_cluster
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig, holder_id
from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics
from tradeplane.runtime.marketdata.tables import MarketKey

pytestmark = pytest.mark.unit

SAMPLES = Path(__file__).resolve().parents[3] / "manifests" / "samples"
KEY = MarketKey("tests/sim", "XAUT-USDT")


def sample(name: str, namespace: str = "desk") -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((SAMPLES / name).read_text())
    raw["metadata"]["namespace"] = namespace
    return raw


def make(**overrides: Any) -> IngestorConfig:
    return IngestorConfig(
        market=KEY.market,
        symbol=KEY.symbol,
        rest_url="http://127.0.0.1:1",
        ws_url="ws://127.0.0.1:1",
        **overrides,
    )


def test_topics_follow_the_streams_klines_first() -> None:
    config = make(intervals=("1m", "1h"), depth=True)
    assert config.topics() == [
        "XAUT-USDT@kline_1m",
        "XAUT-USDT@kline_1h",
        "XAUT-USDT@trade",
        "XAUT-USDT@incrDepth",
        "XAUT-USDT@markPrice",
    ]
    assert make(intervals=(), trades=False, mark_price=False, depth=True).topics() == ["XAUT-USDT@incrDepth"]
    assert config.symbol == "XAUT-USDT"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"intervals": (), "trades": False, "mark_price": False}, "nothing to ingest"),
        ({"backfill_from": datetime(2026, 1, 1)}, "timezone-aware"),
        ({"lease_ttl": timedelta(milliseconds=500)}, "at least one second"),
        ({"flush_frames": 0}, "positive"),
        ({"intervals": ("7m",)}, "7m"),
    ],
)
def test_invalid_settings_are_refused(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_invalid_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="xaut"):
        IngestorConfig(market="a/b", symbol="xaut", rest_url="http://x", ws_url="ws://x")


def test_holder_ids_name_the_process_and_differ_per_incarnation() -> None:
    first, second = holder_id(), holder_id()
    assert first != second
    assert first.split(":")[0] == socket.gethostname() and len(first.split(":")) == 3


def test_config_from_the_sample_instrument_and_venue() -> None:
    instrument = Instrument.model_validate(sample("instrument.yaml"))
    venue = Venue.model_validate(sample("venue.yaml"))
    derived = ingestor_config(
        namespace="desk", spec=instrument.spec, venue_name=instrument.spec.venue_ref.name, venue=venue.spec
    )
    config = IngestorConfig.build(derived.model_dump(mode="json"), {"lease_ttl": timedelta(seconds=3)})
    assert config.key == MarketKey("desk/bingx-paper", "XAUT-USDT")
    assert (config.rest_url, config.ws_url) == ("http://127.0.0.1:18080", "ws://127.0.0.1:18080/swap-market")
    assert config.intervals == ("1m", "15m", "1h")
    assert (config.trades, config.depth, config.mark_price, config.funding) == (True, True, True, True)
    assert config.backfill_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert (config.lookback, config.gap_healing, config.lease_ttl) == (
        timedelta(hours=24),
        True,
        timedelta(seconds=3),
    )


class FakeApiServer(BaseHTTPRequestHandler):
    """Answers the two reads ``load_from_cluster`` makes, as the Kubernetes API server would."""

    objects: ClassVar[dict[str, dict[str, Any]]] = {}

    def do_GET(self) -> None:
        body = self.objects.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {"kind": "Status", "code": 404}).encode())

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def apiserver(tmp_path: Path) -> Iterator[Path]:
    base = "/apis/tradeplane.io/v1alpha1/namespaces/desk"
    FakeApiServer.objects = {
        f"{base}/instruments/xaut-usdt": sample("instrument.yaml"),
        f"{base}/venues/bingx-paper": sample("venue.yaml"),
    }
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeApiServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}],
                "users": [{"name": "u", "user": {"token": "t"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    yield kubeconfig
    server.shutdown()
    server.server_close()


def test_load_from_cluster_reads_the_instrument_then_its_venue(apiserver: Path) -> None:
    config = load_from_cluster("desk", "xaut-usdt", kubeconfig=apiserver, journal=True)
    assert config.key == MarketKey("desk/bingx-paper", "XAUT-USDT")
    assert config.rest_url == "http://127.0.0.1:18080" and config.journal is True


def test_metrics_read_back_and_serve_over_http() -> None:
    metrics = IngestMetrics()
    assert metrics.value("tradeplane_ingest_frames_total", stream="trade") == 0
    metrics.frames.labels("trade").inc(3)
    metrics.leader.set(1)
    assert metrics.value("tradeplane_ingest_frames_total", stream="trade") == 3
    assert metrics.value("tradeplane_ingest_leader") == 1
    assert metrics.serve(0) is None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = metrics.serve(port)
    assert server is not None
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            text = response.read().decode()
    finally:
        server.shutdown()
        server.server_close()
    assert 'tradeplane_ingest_frames_total{stream="trade"} 3.0' in text


def test_cli_instrument_mode_takes_streams_from_the_cluster_and_process_flags(apiserver: Path) -> None:
    config = build_config(
        instrument="desk/xaut-usdt",
        kubeconfig=str(apiserver),
        flags=(None, "XAUT-USDT", None, None),
        streams={"trades": False, "intervals": ("5m",)},
        process={"lease_ttl": timedelta(seconds=4), "journal": True},
    )
    assert config.intervals == ("1m", "15m", "1h") and config.trades is True
    assert (config.lease_ttl, config.journal) == (timedelta(seconds=4), True)


def test_cli_instrument_mode_takes_journal_and_retention_from_the_spec_unless_given(apiserver: Path) -> None:
    raw = FakeApiServer.objects["/apis/tradeplane.io/v1alpha1/namespaces/desk/instruments/xaut-usdt"]
    raw["spec"] |= {
        "journal": {"enabled": False, "retention": "6h"},
        "retention": {"depth": "48h", "trades": "720h"},
    }

    def retention(process: dict[str, Any]) -> tuple[object, ...]:
        config = build_config(
            instrument="desk/xaut-usdt", kubeconfig=str(apiserver), flags=(None, None, None, None),
            streams={}, process=process,
        )  # fmt: skip
        return (config.journal, config.journal_retention, config.depth_retention, config.trades_retention)

    hours = [timedelta(hours=h) for h in (6, 48, 720)]
    assert retention({}) == (False, *hours)
    assert retention({"journal": True, "trades_retention": None}) == (True, *hours[:2], None)
