"""``tradeplane venue-sim``: the simulator as a process, REST at ``http://HOST:PORT/openApi/...`` and
the market WebSocket at ``ws://HOST:PORT/swap-market``. At speed 1 the clock is the wall clock, so
clients that sign with their own timestamps are accepted; other speeds run from the fixed start."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from tradeplane.runtime.venue.credentials import API_KEY_ENV, SECRET_KEY_ENV

READY = "venue-sim ready"


def _replay(entries: list[str]) -> dict[str, Path]:
    replay: dict[str, Path] = {}
    for entry in entries:
        symbol, separator, path = entry.partition("=")
        if not separator or not symbol or not path:
            raise typer.BadParameter(f"--replay takes SYMBOL=PATH, got {entry!r}")
        replay[symbol] = Path(path)
    return replay


async def _serve(config: object, host: str, port: int) -> None:
    from tradeplane.runtime.venue.sim.server import SimConfig, VenueSimulator  # noqa: PLC0415 - heavy imports

    assert isinstance(config, SimConfig)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    simulator = VenueSimulator(config)
    await simulator.start(host, port)
    typer.echo(f"{READY} rest={simulator.rest_url} ws={simulator.ws_url} seed={config.seed}", err=False)
    try:
        await stopping.wait()
    finally:
        await simulator.stop()


def venue_sim(
    *,
    port: Annotated[int, typer.Option(help="Port to serve on (0: any free port).")] = 0,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    seed: Annotated[int, typer.Option(help="Seed of the market, book, funding and faults.")] = 7,
    api_key: Annotated[str | None, typer.Option(help=f"Accepted API key (or {API_KEY_ENV}).")] = None,
    api_secret: Annotated[
        str | None,
        typer.Option(help=f"Request signing secret (or {SECRET_KEY_ENV}).", show_default=False),
    ] = None,
    speed: Annotated[float, typer.Option(help="Clock speed; 1 is the wall clock.")] = 1.0,
    replay: Annotated[list[str], typer.Option(help="SYMBOL=PATH of a CSV/Parquet OHLCV file.")] = [],  # noqa: B006
    symbols: Annotated[list[str], typer.Option("--symbols", help="Symbols to list (default: all).")] = [],  # noqa: B006
) -> None:
    """Run the BingX venue simulator in the foreground until SIGTERM or SIGINT."""
    from tradeplane.runtime.venue.sim.catalog import CATALOG  # noqa: PLC0415
    from tradeplane.runtime.venue.sim.server import SimConfig  # noqa: PLC0415

    key = api_key or os.environ.get(API_KEY_ENV)
    secret = api_secret or os.environ.get(SECRET_KEY_ENV)
    if not key or not secret:
        raise typer.BadParameter(f"give --api-key/--api-secret or set {API_KEY_ENV}/{SECRET_KEY_ENV}")
    if speed <= 0:
        raise typer.BadParameter("--speed must be positive")
    chosen = tuple(symbol for entry in symbols for symbol in entry.split(",") if symbol) or tuple(CATALOG)
    config = SimConfig(
        seed=seed,
        api_key=key,
        api_secret=secret,
        symbols=chosen,
        clock="real" if speed == 1.0 else speed,
        replay=_replay(replay),
    )
    asyncio.run(_serve(config, host, port))
