"""Bulk writes for the ingest hot path: one ``INSERT ... SELECT ... FROM unnest(arrays)`` per table.

An executemany of a compiled SQLAlchemy ``insert()`` costs client CPU per row (a dict per row, bind
processors, JSON serialisation of depth levels), which capped the ingestor far below its decode rate.
Here a batch is one column array per column, built with list comprehensions and encoded by asyncpg in C;
values that are the same for the whole batch (market, symbol) are single parameters. The SQL text is
built once at import from ``tables`` (one schema definition), so the driver's prepared-statement cache
keeps one plan per statement and connection.

Times travel as int8 microseconds since the Unix epoch (``micros``) and become ``timestamptz`` on the
server (``epoch + n * 1 us``, exact integer arithmetic below 2**53 us, i.e. for 285 years): asyncpg's
``timestamptz`` encoder costs about 1.1 us per element (a timezone conversion, two comparisons and a
timedelta per value) against 0.17 us for the subtraction here, and a BTC batch carries tens of
thousands of times.

Statements run through ``exec_driver_sql`` on the caller's connection rather than on the raw asyncpg
connection: no compilation or per-row processing either way, but it stays in the caller's (fenced)
transaction *and* errors still arrive as SQLAlchemy's ``DBAPIError`` with a dead connection invalidated
in the pool, which the ingestor's retry loop relies on.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Table
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection

from tradeplane.runtime.marketdata.store_candles import require_utc
from tradeplane.runtime.marketdata.tables import depth_updates, mark_prices, raw_journal, trades

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
KEY_COLUMNS = ("market", "symbol")


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime, what: str) -> int:
    """``moment`` as microseconds since the Unix epoch; a naive datetime is refused (its meaning
    would depend on the host), as everywhere at the store's boundary."""
    try:
        return (moment - EPOCH) // _MICROSECOND
    except TypeError:
        require_utc(moment, what)  # the store's one message for a naive time
        raise


def _element_type(column: Column[Any]) -> str:
    """JSON goes in as the text received and is cast on the server, so the client never parses it;
    times go in as ``micros``."""
    if isinstance(column.type, JSONB):
        return "text"
    if isinstance(column.type, DateTime):
        return "int8"
    return str(column.type.compile(dialect=_DIALECT))


def _element(column: Column[Any]) -> str:
    name = f"u.{_quote(column.name)}"
    if isinstance(column.type, JSONB):
        return f"{name}::jsonb"
    if isinstance(column.type, DateTime):
        return f"(timestamptz 'epoch' + {name} * interval '1 microsecond')"
    return name


def unnest_insert(
    table: Table, columns: Sequence[str], *, fixed: Sequence[str] = KEY_COLUMNS, on_conflict: str
) -> str:
    """``INSERT INTO table AS t (fixed, columns) SELECT $1.., u.* FROM unnest($k::type[], ..) AS u``.

    Parameters: one value per ``fixed`` column, then one array per ``columns`` entry, in that order.
    ``on_conflict`` may refer to the stored row as ``t`` and to the incoming one as ``EXCLUDED``.
    """
    names = [*fixed, *columns]
    picked = [table.c[name] for name in names]  # a KeyError here is a typo against tables.py
    if any(isinstance(column.type, DateTime) for column in picked[: len(fixed)]):
        raise ValueError("a fixed (per-statement) parameter cannot be a time: times travel as arrays")
    scalars = [f"${n}::{_element_type(column)}" for n, column in enumerate(picked[: len(fixed)], 1)]
    arrays = [
        f"${n}::{_element_type(column)}[]" for n, column in enumerate(picked[len(fixed) :], len(fixed) + 1)
    ]
    elements = [_element(column) for column in picked[len(fixed) :]]
    # identifiers only, quoted, from tables.py; every value is a bind parameter
    return (
        f"INSERT INTO {_quote(str(table.schema))}.{_quote(table.name)} AS t"  # noqa: S608
        f" ({', '.join(_quote(name) for name in names)})"
        f" SELECT {', '.join([*scalars, *elements])}"
        f" FROM unnest({', '.join(arrays)}) AS u({', '.join(_quote(name) for name in columns)})"
        f" {on_conflict}"
    )


def _conflict_target(table: Table) -> str:
    return ", ".join(_quote(column.name) for column in table.primary_key)


TRADE_COLUMNS = (
    "time",
    "trade_key",
    "trade_id",
    "price",
    "quantity",
    "buyer_is_maker",
    "source",
    "received_at",
    "connection_id",
    "payload_hash",
)
INSERT_TRADES = unnest_insert(trades, TRADE_COLUMNS, on_conflict="ON CONFLICT DO NOTHING")
"""Trades are immutable once seen: a known (time, trade_key) is skipped."""

DEPTH_COLUMNS = (
    "exchange_time",
    "update_id",
    "action",
    "frame",
    "received_at",
    "connection_id",
    "payload_hash",
)
INSERT_DEPTH = unnest_insert(depth_updates, DEPTH_COLUMNS, on_conflict="ON CONFLICT DO NOTHING")
"""incrDepth pushes as received: a known (exchange_time, update_id) is skipped."""

MARK_COLUMNS = ("time", "price", "received_at")
UPSERT_MARK_PRICES = unnest_insert(
    mark_prices,
    MARK_COLUMNS,
    fixed=(*KEY_COLUMNS, "source"),
    on_conflict=(
        f"ON CONFLICT ({_conflict_target(mark_prices)}) DO UPDATE"
        " SET price = EXCLUDED.price, source = EXCLUDED.source, received_at = EXCLUDED.received_at"
        " WHERE t.price <> EXCLUDED.price"
    ),
)
"""A mark price is rewritten only when it differs (as a number), so a replay leaves the row alone."""

JOURNAL_COLUMNS = (
    "connection_id",
    "received_at",
    "data_type",
    "exchange_time",
    "payload_sha256",
    "payload",
    "note",
)
INSERT_JOURNAL = unnest_insert(raw_journal, JOURNAL_COLUMNS, on_conflict="")
"""Append-only; ids follow the arrays' order (unnest reads elements in storage order)."""


async def execute(conn: AsyncConnection, sql: str, *parameters: Any) -> int:
    """Run one bulk statement in the caller's transaction; rows it inserted or updated."""
    result = await conn.exec_driver_sql(sql, parameters)
    return int(result.rowcount)
