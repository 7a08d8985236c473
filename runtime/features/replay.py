"""Stored history through the live path, exactly as a live runner would see it bar by bar.

Why it exists: the live path is only trustworthy if it is fed the way production feeds it (each
context bar once it has closed, each funding and mark observation once published, never earlier), and
the same feeding is what warm-starts a live runner from stored history, what the agreement tests
compare against batch, and what the latency benchmark times.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tradeplane.runtime.features.inputs import Bar, FloatArray, Inputs, Point, Series
from tradeplane.runtime.features.plan import FeaturePlan, IncrementalFeatures


@dataclass(frozen=True)
class LiveEvent:
    """One base bar and everything that became known since the previous one, up to its close."""

    bar: Bar
    context: dict[str, list[Bar]]
    funding: list[Point]
    mark: list[Point]


def live_events(inputs: Inputs) -> Iterator[LiveEvent]:
    closes = inputs.bars.close_time_ms
    context_ends = {
        interval: np.searchsorted(bars.close_time_ms, closes, side="right")
        for interval, bars in inputs.context.items()
    }
    funding_ends = np.searchsorted(inputs.funding.time_ms, closes, side="right")
    mark_ends = np.searchsorted(inputs.mark.time_ms, closes, side="right")
    context_done = dict.fromkeys(inputs.context, 0)
    funding_done = mark_done = 0
    for row in range(len(closes)):
        context: dict[str, list[Bar]] = {}
        for interval, bars in inputs.context.items():
            end = int(context_ends[interval][row])
            context[interval] = [bars.bar(i) for i in range(context_done[interval], end)]
            context_done[interval] = end
        funding = _points(inputs.funding, funding_done, int(funding_ends[row]))
        mark = _points(inputs.mark, mark_done, int(mark_ends[row]))
        funding_done, mark_done = int(funding_ends[row]), int(mark_ends[row])
        yield LiveEvent(inputs.bars.bar(row), context, funding, mark)


def _points(series: Series, start: int, end: int) -> list[Point]:
    return [Point(int(series.time_ms[i]), float(series.value[i])) for i in range(start, end)]


def feed(live: IncrementalFeatures, event: LiveEvent) -> FloatArray:
    return live.update(event.bar, context=event.context, funding=event.funding, mark=event.mark)


def replay(plan: FeaturePlan, inputs: Inputs) -> FloatArray:
    """The live rows for every base bar of ``inputs``, stacked like :meth:`FeaturePlan.batch`."""
    live = plan.incremental(inputs.funding_schedule)
    rows = [feed(live, event) for event in live_events(inputs)]
    return np.array(rows).reshape(len(rows), len(plan.columns))
