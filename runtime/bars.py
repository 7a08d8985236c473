"""THE OHLCV bar: one bar of trade prices as the venue reports it, in exact decimals.

Every layer that holds a single bar by value speaks this type: the stream sequencer closes ``Bar``s,
REST and stream payloads convert to it (``KlineBar.to_bar``, ``Kline.to_bar``), and the store's
``Candle`` row is a ``Bar``'s fields in the same order followed by the store's own state. Prices and
volume are Decimal because this is the exchange boundary; the feature path reads bars as float
column arrays (``features.inputs.Bars``) built from stored rows, and the simulator keeps integer
ticks internally and speaks BingX's wire format, which converts to a ``Bar`` here like the real
venue's. A NamedTuple: one is built per pushed frame on the ingest hot path.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import NamedTuple


class Bar(NamedTuple):
    """One trade-price bar; ``open_time`` is the bar's start (aware UTC)."""

    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
