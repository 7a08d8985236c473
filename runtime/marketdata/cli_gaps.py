"""``tradeplane gaps``: the market-data gap events as a table, for an operator deciding whether data
is complete enough to train or trade on.

Reads ``DATABASE_URL`` when set, otherwise the embedded server (started if need be). Without
``--state`` or ``--all`` it shows what still needs attention (open, healing, unhealable); healed
gaps only with ``--all`` or ``--state healed``. Exit code 0 whenever the events could be read.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from tradeplane.runtime.console import user_errors
from tradeplane.runtime.errors import UserError
from tradeplane.runtime.marketdata.gaps import GapEvent, GapState, list_gaps
from tradeplane.runtime.store.engine import create_engine, database_url, masked, run_sync

console = Console()
TABLE_WIDTH = 180
COLUMNS = (
    "market",
    "symbol",
    "stream",
    "interval",
    "source",
    "start",
    "end",
    "missing",
    "state",
    "attempts",
    "detected",
    "updated",
)


class GapsError(UserError):
    """The gap events could not be read; the URL in the message is masked."""


async def _read(url: str, market: str | None, symbol: str | None, state: GapState | None) -> list[GapEvent]:
    engine = create_engine(url)
    try:
        return await list_gaps(engine, market=market, symbol=symbol, state=state)
    finally:
        await engine.dispose()


def read_gaps(url: str, *, market: str | None, symbol: str | None, state: GapState | None) -> list[GapEvent]:
    try:
        return run_sync(_read(url, market, symbol, state))
    except (OSError, SQLAlchemyError) as exc:
        raise GapsError(f"reading gap events failed on {masked(url)}: {exc}") from exc


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def gaps_table(events: list[GapEvent]) -> Table:
    table = Table(*COLUMNS, title="market-data gap events")
    for gap in events:
        table.add_row(
            gap.key.market,
            gap.key.symbol,
            gap.stream,
            gap.interval,
            gap.source,
            _when(gap.start),
            _when(gap.end),
            str(gap.missing),
            gap.state.value,
            str(gap.attempts),
            _when(gap.detected_at),
            _when(gap.updated_at),
        )
    return table


def gaps(
    market: Annotated[
        str | None, typer.Option("--market", metavar="NS/VENUE", help="Only this Venue's data.")
    ] = None,
    symbol: Annotated[str | None, typer.Option("--symbol", help="Only this symbol (e.g. XAUT-USDT).")] = None,
    state: Annotated[GapState | None, typer.Option("--state", help="Only gaps in this state.")] = None,
    show_all: Annotated[bool, typer.Option("--all", help="Include healed gaps.")] = False,
) -> None:
    """List market-data gap events (open, healing and unhealable; --all adds healed ones)."""
    with user_errors():
        events = read_gaps(database_url(), market=market, symbol=symbol, state=state)
    if state is None and not show_all:
        events = [gap for gap in events if gap.state is not GapState.HEALED]
    if not events:
        console.print("no gap events", highlight=False)
        return
    # never squeeze times and ids into ellipses: a gap table is read, copied and pasted
    Console(width=max(console.width, TABLE_WIDTH)).print(gaps_table(events))
