"""``tradeplane ingest``: one Instrument's ingestor process.

Two ways to say what to ingest, both what the operator and tests use: the whole configuration in
flags (``--market NS/VENUE --symbol S --rest-url ... --ws-url ... --interval 1m ...``, how the operator
starts it, so it needs no access to the Kubernetes API), or only ``--instrument NS/NAME`` (plus
``--kubeconfig``), which reads the Instrument and its Venue from the API server. Storage is
``DATABASE_URL`` or the embedded PostgreSQL. SIGTERM stops it gracefully: the pending batch is
committed and the lease released, so a successor takes over at once.

The journal and retention flags override the Instrument only when given: left out, the spec (or, in
flags mode, the same defaults the spec has) decides. The operator's ``ingestor_workload`` writes them
from the spec, so a flags-mode ingestor does exactly what the Instrument says.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

import typer
import uvloop

from tradeplane.crds.common import parse_duration
from tradeplane.reconcilers.ingest import FOREVER

READY = "ingest ready"
T = TypeVar("T")


def _duration(flag: str, value: str, *, forever: bool = False) -> timedelta | None:
    if forever and value == FOREVER:
        return None
    try:
        return parse_duration(value)
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint=flag) from None


def _retention(
    journal: bool | None, journal_retention: str | None, depth: str | None, trades: str | None
) -> dict[str, Any]:
    """Only what was given: the rest stays the Instrument's (or the defaults, in flags mode)."""
    given: dict[str, Any] = {}
    if journal is not None:
        given["journal"] = journal
    if journal_retention is not None:
        given["journal_retention"] = _duration("--journal-retention", journal_retention)
    if depth is not None:
        given["depth_retention"] = _duration("--depth-retention", depth, forever=True)
    if trades is not None:
        given["trades_retention"] = _duration("--trades-retention", trades, forever=True)
    return given


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """The ingestor runs on uvloop: its hot path yields to the loop after every frame (that is when
    the in-flight commit's next round trip runs), and uvloop's iteration costs a fraction of the
    standard loop's; asyncpg, websockets and aiohttp all support it. The ingest benchmark runs its
    end-to-end measurement through this too, so it times the loop the ingestor really has."""
    return uvloop.run(main)


async def _serve(config: Any, metrics_port: int) -> None:
    from tradeplane.runtime.marketdata.ingest_metrics import IngestMetrics  # noqa: PLC0415 - heavy imports
    from tradeplane.runtime.marketdata.ingestor import Ingestor  # noqa: PLC0415
    from tradeplane.runtime.store.engine import create_engine  # noqa: PLC0415
    from tradeplane.runtime.venue.client import BingXClient  # noqa: PLC0415

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    metrics = IngestMetrics()
    metrics.serve(metrics_port)
    engine = create_engine()
    typer.echo(f"{READY} key={config.key} holder={config.holder}")
    try:
        async with BingXClient(config.rest_url) as client:
            await Ingestor(config, engine, client, metrics=metrics).run(stopping)
    finally:
        await engine.dispose()


def ingest(
    *,
    instrument: Annotated[
        str | None, typer.Option(help="NAMESPACE/NAME of the Instrument (read from the cluster when alone).")
    ] = None,
    kubeconfig: Annotated[str | None, typer.Option(help="Kubeconfig for reading the Instrument.")] = None,
    market: Annotated[str | None, typer.Option(help="NAMESPACE/VENUE the data is stored under.")] = None,
    symbol: Annotated[str | None, typer.Option(help="BingX symbol, e.g. XAUT-USDT.")] = None,
    rest_url: Annotated[str | None, typer.Option(help="Venue REST base URL.")] = None,
    ws_url: Annotated[str | None, typer.Option(help="Venue market WebSocket URL.")] = None,
    interval: Annotated[list[str], typer.Option(help="Kline interval (repeatable; default 1m).")] = [],  # noqa: B006
    trades: Annotated[bool, typer.Option(help="Ingest @trade.")] = True,
    depth: Annotated[bool, typer.Option(help="Ingest @incrDepth.")] = False,
    mark_price: Annotated[bool, typer.Option(help="Ingest @markPrice.")] = True,
    funding: Annotated[bool, typer.Option(help="Fetch funding after each settlement.")] = True,
    backfill_from: Annotated[str | None, typer.Option(help="RFC 3339 start of history to backfill.")] = None,
    lookback: Annotated[str, typer.Option(help="How far back gaps are scanned (Go duration).")] = "24h",
    heal: Annotated[bool, typer.Option(help="Scan for and heal gaps.")] = True,
    lease_ttl: Annotated[str, typer.Option(help="Lease time to live (Go duration).")] = "15s",
    journal: Annotated[
        bool | None,
        typer.Option(
            "--journal/--no-journal", help="Keep every raw frame in the journal (default: the spec's)."
        ),
    ] = None,
    journal_retention: Annotated[
        str | None, typer.Option(help="Delete journaled frames older than this (Go duration; default 24h).")
    ] = None,
    depth_retention: Annotated[
        str | None,
        typer.Option(help=f"Delete depth rows older than this (Go duration or {FOREVER}; default 168h)."),
    ] = None,
    trades_retention: Annotated[
        str | None,
        typer.Option(help=f"Delete trades older than this (Go duration or {FOREVER}, the default)."),
    ] = None,
    prune_interval: Annotated[
        str | None, typer.Option(help="How often retention runs while leading (Go duration; default 10m).")
    ] = None,
    metrics_port: Annotated[int, typer.Option(help="Port of GET /metrics (0: off).")] = 0,
) -> None:
    """Ingest one Instrument's market data (WebSocket + REST) into PostgreSQL under a fenced lease.

    Journal and retention flags left out take the Instrument's values (whose defaults they show);
    retention prunes the journal, depth and trades every 10m while this process holds the lease.
    """
    streams: dict[str, Any] = {
        "trades": trades,
        "depth": depth,
        "mark_price": mark_price,
        "funding": funding,
        "lookback": parse_duration(lookback),
        "gap_healing": heal,
    }
    if interval:
        streams["intervals"] = tuple(interval)
    if backfill_from is not None:
        moment = datetime.fromisoformat(backfill_from)
        if moment.tzinfo is None:
            raise typer.BadParameter("--backfill-from needs a time zone (e.g. 2026-01-01T00:00:00Z)")
        streams["backfill_from"] = moment
    process = {
        "lease_ttl": parse_duration(lease_ttl),
        **_retention(journal, journal_retention, depth_retention, trades_retention),
    }
    if prune_interval is not None:
        process["prune_interval"] = _duration("--prune-interval", prune_interval)
    try:
        config = build_config(
            instrument=instrument,
            kubeconfig=kubeconfig,
            flags=(market, symbol, rest_url, ws_url),
            streams=streams,
            process=process,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    run_loop(_serve(config, metrics_port))


def build_config(
    *,
    instrument: str | None,
    kubeconfig: str | None,
    flags: tuple[str | None, str | None, str | None, str | None],
    streams: dict[str, Any],
    process: dict[str, Any],
) -> Any:
    """The configuration from flags (market, symbol, REST and WS URLs all given), else from the
    Instrument in the cluster. What to ingest comes from one source only (the Instrument's streams are
    not overridden by flag defaults); how this process runs (lease TTL, and journal and retention
    when given) applies to both."""
    from tradeplane.runtime.marketdata.ingest_config import (  # noqa: PLC0415
        IngestConfig,
        load_from_cluster,
    )
    from tradeplane.runtime.marketdata.tables import MarketKey  # noqa: PLC0415

    market, symbol, rest_url, ws_url = flags
    if market and symbol and rest_url and ws_url:
        return IngestConfig(MarketKey(market, symbol), rest_url, ws_url, **streams, **process)
    if instrument and "/" in instrument:
        namespace, name = instrument.split("/", 1)
        return load_from_cluster(namespace, name, kubeconfig=kubeconfig, **process)
    raise typer.BadParameter("give --instrument NS/NAME, or --market, --symbol, --rest-url and --ws-url")
