"""``tradeplane ingest``: one Instrument's ingestor process.

Its configuration is one :class:`IngestorConfig`, from exactly one source: ``--config`` (canonical
JSON, or ``@path`` to a file), how the operator starts it, so it needs no access to the Kubernetes
API; or ``--instrument NS/NAME`` (plus ``--kubeconfig``), which reads the Instrument and its Venue
from the API server and derives the configuration as the operator does; or, for a manual run, the
flags ``--market NS/VENUE --symbol S --rest-url ... --ws-url ...`` with the stream flags. A source
decides what is ingested: the stream flags only shape a configuration built from flags. The process
flags (lease TTL, journal, retention, prune interval) override any source. No flag has a default of
its own: left out, the configuration's value (the model's default, or the spec's) stands.

A configuration the model refuses exits 2 naming the field, before anything connects. Storage is
``DATABASE_URL`` or the embedded PostgreSQL. SIGTERM stops it gracefully: the pending batch is
committed and the lease released, so a successor takes over at once.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import uvloop

from tradeplane.crds.common import parse_duration
from tradeplane.runtime.marketdata.ingest_config import IngestorConfig

READY = "ingest ready"
FOREVER = "forever"
"""The retention flag value for "never delete" (``null`` in the configuration)."""
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
    """Only what was given: the rest stays the configuration's."""
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


def _given(**values: Any) -> dict[str, Any]:
    """The flags that were given (not None), as configuration fields."""
    return {name: value for name, value in values.items() if value is not None}


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """The ingestor runs on uvloop: its hot path yields to the loop after every frame (that is when
    the in-flight commit's next round trip runs), and uvloop's iteration costs a fraction of the
    standard loop's; asyncpg, websockets and aiohttp all support it. The ingest benchmark runs its
    end-to-end measurement through this too, so it times the loop the ingestor really has."""
    return uvloop.run(main)


async def _serve(config: IngestorConfig, metrics_port: int) -> None:
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
    config: Annotated[
        str | None,
        typer.Option(help="The IngestorConfig as JSON, or @PATH to a file (what the operator passes)."),
    ] = None,
    instrument: Annotated[
        str | None, typer.Option(help="NAMESPACE/NAME of the Instrument (read from the cluster).")
    ] = None,
    kubeconfig: Annotated[str | None, typer.Option(help="Kubeconfig for reading the Instrument.")] = None,
    market: Annotated[str | None, typer.Option(help="NAMESPACE/VENUE the data is stored under.")] = None,
    symbol: Annotated[str | None, typer.Option(help="BingX symbol, e.g. XAUT-USDT.")] = None,
    rest_url: Annotated[str | None, typer.Option(help="Venue REST base URL.")] = None,
    ws_url: Annotated[str | None, typer.Option(help="Venue market WebSocket URL.")] = None,
    interval: Annotated[list[str], typer.Option(help="Kline interval (repeatable).")] = [],  # noqa: B006
    trades: Annotated[bool | None, typer.Option("--trades/--no-trades", help="Ingest @trade.")] = None,
    depth: Annotated[bool | None, typer.Option("--depth/--no-depth", help="Ingest @incrDepth.")] = None,
    mark_price: Annotated[
        bool | None, typer.Option("--mark-price/--no-mark-price", help="Ingest @markPrice.")
    ] = None,
    funding: Annotated[
        bool | None, typer.Option("--funding/--no-funding", help="Fetch funding after each settlement.")
    ] = None,
    backfill_from: Annotated[str | None, typer.Option(help="RFC 3339 start of history to backfill.")] = None,
    lookback: Annotated[str | None, typer.Option(help="How far back gaps are scanned (Go duration).")] = None,
    heal: Annotated[bool | None, typer.Option("--heal/--no-heal", help="Scan for and heal gaps.")] = None,
    lease_ttl: Annotated[str | None, typer.Option(help="Lease time to live (Go duration).")] = None,
    journal: Annotated[
        bool | None, typer.Option("--journal/--no-journal", help="Keep every raw frame in the journal.")
    ] = None,
    journal_retention: Annotated[
        str | None, typer.Option(help="Delete journaled frames older than this (Go duration).")
    ] = None,
    depth_retention: Annotated[
        str | None, typer.Option(help=f"Delete depth rows older than this (Go duration or {FOREVER}).")
    ] = None,
    trades_retention: Annotated[
        str | None, typer.Option(help=f"Delete trades older than this (Go duration or {FOREVER}).")
    ] = None,
    prune_interval: Annotated[
        str | None, typer.Option(help="How often retention runs while leading (Go duration).")
    ] = None,
    metrics_port: Annotated[int, typer.Option(help="Port of GET /metrics (0: off).")] = 0,
) -> None:
    """Ingest one Instrument's market data (WebSocket + REST) into PostgreSQL under a fenced lease.

    Every flag but the source is an override: left out, the configuration's value stands (the
    defaults are IngestorConfig's). The stream flags shape a configuration built from flags only.
    """
    streams = _given(
        trades=trades,
        depth=depth,
        mark_price=mark_price,
        funding=funding,
        lookback=None if lookback is None else _duration("--lookback", lookback),
        gap_healing=heal,
        intervals=tuple(interval) if interval else None,
    )
    if backfill_from is not None:
        moment = datetime.fromisoformat(backfill_from)
        if moment.tzinfo is None:
            raise typer.BadParameter("--backfill-from needs a time zone (e.g. 2026-01-01T00:00:00Z)")
        streams["backfill_from"] = moment
    process = {
        **_given(lease_ttl=None if lease_ttl is None else _duration("--lease-ttl", lease_ttl)),
        **_retention(journal, journal_retention, depth_retention, trades_retention),
    }
    if prune_interval is not None:
        process["prune_interval"] = _duration("--prune-interval", prune_interval)
    try:
        configured = build_config(
            config=config,
            instrument=instrument,
            kubeconfig=kubeconfig,
            flags=(market, symbol, rest_url, ws_url),
            streams=streams,
            process=process,
        )
    except ValueError as error:
        raise typer.BadParameter(str(error)) from None
    run_loop(_serve(configured, metrics_port))


def build_config(
    *,
    instrument: str | None,
    kubeconfig: str | None,
    flags: tuple[str | None, str | None, str | None, str | None],
    streams: dict[str, Any],
    process: dict[str, Any],
    config: str | None = None,
) -> IngestorConfig:
    """The configuration from ``config`` (the operator's JSON), else from flags (market, symbol, REST
    and WS URLs all given, with ``streams``), else from the Instrument in the cluster. What to ingest
    comes from that one source only; how this process runs (``process``: lease TTL, journal,
    retention, prune interval, when given) applies to all three."""
    market, symbol, rest_url, ws_url = flags
    if config is not None:
        return IngestorConfig.from_argument(config, process)
    if market and symbol and rest_url and ws_url:
        identity = {"market": market, "symbol": symbol, "rest_url": rest_url, "ws_url": ws_url}
        return IngestorConfig.build({**identity, **streams}, process)
    if instrument and "/" in instrument:
        namespace, name = instrument.split("/", 1)
        return load_from_cluster(namespace, name, kubeconfig=kubeconfig, **process)
    raise typer.BadParameter(
        "give --instrument NS/NAME, or --config JSON, or --market, --symbol, --rest-url and --ws-url"
    )


def load_from_cluster(
    namespace: str, name: str, *, kubeconfig: str | Path | None = None, **overrides: Any
) -> IngestorConfig:
    """Read the Instrument and its Venue with the official client and derive the configuration the
    operator would pass (``ingestor_config``), with ``overrides`` on top."""
    from kubernetes import client  # noqa: PLC0415 - only the cluster path needs it

    from tradeplane.crds.common import GROUP, VERSION  # noqa: PLC0415
    from tradeplane.crds.instrument import Instrument  # noqa: PLC0415
    from tradeplane.crds.venue import Venue  # noqa: PLC0415
    from tradeplane.reconcilers.ingest import ingestor_config  # noqa: PLC0415
    from tradeplane.runtime.kubeapi import api_client  # noqa: PLC0415

    with api_client(kubeconfig) as api:
        custom = client.CustomObjectsApi(api)
        raw = custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "instruments", name)
        spec = Instrument.model_validate(raw).spec
        venue_raw = custom.get_namespaced_custom_object(
            GROUP, VERSION, namespace, "venues", spec.venue_ref.name
        )
    venue = Venue.model_validate(venue_raw).spec
    derived = ingestor_config(namespace=namespace, spec=spec, venue_name=spec.venue_ref.name, venue=venue)
    return IngestorConfig.build(derived.model_dump(mode="json"), overrides)
