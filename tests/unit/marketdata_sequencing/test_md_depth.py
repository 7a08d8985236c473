"""DepthSequencer: snapshot then contiguous ids, a 3-frame reorder buffer, duplicates dropped, an
unrepairable break or a crossed book makes it unsynced and no book is served until a new snapshot."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.marketdata.sequencing import BookNotSynced, DepthSequencer
from tradeplane.runtime.venue.payloads_stream import IncrementalDepth

pytestmark = pytest.mark.unit

Side = list[tuple[str, str]]


def depth(ident: int, bids: Side = (), asks: Side = (), *, action: str = "update") -> IncrementalDepth:  # type: ignore[assignment]
    return IncrementalDepth.model_validate(
        {"action": action, "lastUpdateId": ident, "time": 1_717_200_000_000, "bids": bids, "asks": asks}
    )


SNAPSHOT = depth(100, [("99", "1"), ("98", "2"), ("97", "3")], [("101", "1"), ("102", "2")], action="all")


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in pairs]


def test_no_book_before_a_snapshot_and_updates_are_ignored() -> None:
    seq = DepthSequencer()
    with pytest.raises(BookNotSynced):
        seq.book(5)
    step = seq.feed(depth(1, [("1", "1")]))
    assert (step.status, step.synced, step.applied) == ("unsynced", False, ())


def test_snapshot_then_contiguous_updates_add_replace_and_delete_levels() -> None:
    seq = DepthSequencer()
    step = seq.feed(SNAPSHOT)
    assert (step.status, step.reset, step.applied) == ("applied", True, (SNAPSHOT,))
    update = depth(101, [("99", "0"), ("98", "5"), ("96.5", "1")], [("100.5", "4"), ("105", "0")])
    assert seq.feed(update).applied == (update,)
    bids, asks = seq.book(2)
    assert bids == levels(("98", "5"), ("97", "3"))
    assert asks == levels(("100.5", "4"), ("101", "1"))
    assert seq.book(10)[0] == levels(("98", "5"), ("97", "3"), ("96.5", "1"))
    assert seq.last_update_id == 101
    assert seq.applied == 2


def test_out_of_order_within_the_buffer_is_applied_once_the_predecessor_arrives() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    u101, u102, u103 = depth(101, [("99", "7")]), depth(102, [("99", "8")]), depth(103, [("99", "9")])
    assert seq.feed(u103).status == "buffered"
    assert seq.feed(u102).status == "buffered"
    assert seq.book(1)[0] == levels(("99", "1"))  # consistent as of 100 while waiting
    step = seq.feed(u101)
    assert (step.status, step.applied) == ("applied", (u101, u102, u103))
    assert seq.book(1)[0] == levels(("99", "9"))
    assert (seq.buffered, seq.applied) == (2, 4)


def test_duplicates_are_counted_and_dropped() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    seq.feed(depth(101, [("99", "7")]))
    seq.feed(depth(103, [("99", "9")]))
    assert seq.feed(depth(101, [("99", "0")])).status == "duplicate"
    assert seq.feed(depth(100)).status == "duplicate"
    assert seq.feed(depth(103)).status == "duplicate"  # already buffered
    assert seq.duplicates == 3
    assert seq.book(1)[0] == levels(("99", "7"))


def test_a_break_the_buffer_cannot_repair_requires_a_resync_and_a_new_snapshot() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    for ident in (102, 103, 104):
        assert seq.feed(depth(ident)).status == "buffered"
    step = seq.feed(depth(105))
    assert (step.status, step.synced) == ("resync_required", False)
    assert seq.resyncs == 1
    with pytest.raises(BookNotSynced):
        seq.book(1)
    assert seq.feed(depth(101)).status == "unsynced"
    again = depth(200, [("50", "1")], [("51", "1")], action="all")
    assert seq.feed(again).reset
    assert seq.book(5) == (levels(("50", "1")), levels(("51", "1")))


def test_a_snapshot_releases_buffered_updates_that_follow_it_and_drops_older_ones() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    seq.feed(depth(103, [("99", "3")]))
    seq.feed(depth(106, [("99", "6")]))
    snap = depth(105, [("99", "5")], [("101", "1")], action="all")
    step = seq.feed(snap)
    assert [u.last_update_id for u in step.applied] == [105, 106]
    assert seq.book(1)[0] == levels(("99", "6"))
    assert seq.last_update_id == 106


def test_a_crossed_book_is_a_break() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    step = seq.feed(depth(101, [("101.5", "1")]))
    assert (step.status, seq.crossed, seq.resyncs) == ("resync_required", 1, 1)
    crossed_snapshot = depth(300, [("10", "1")], [("9", "1")], action="all")
    assert seq.feed(crossed_snapshot).status == "resync_required"
    assert seq.crossed == 2


def test_zero_quantity_in_a_snapshot_is_no_level() -> None:
    seq = DepthSequencer()
    seq.feed(depth(1, [("5", "0"), ("4", "1")], [], action="all"))
    assert seq.book(5) == (levels(("4", "1")), [])


# --- law: any permutation within the reorder window gives the in-order book ----------------------

level = st.tuples(st.sampled_from(["95", "96", "97", "98", "99"]), st.sampled_from(["0", "1", "2.5"]))
ask_level = st.tuples(st.sampled_from(["101", "102", "103", "104"]), st.sampled_from(["0", "1", "3"]))
updates = st.lists(
    st.tuples(st.lists(level, max_size=3), st.lists(ask_level, max_size=3)), min_size=1, max_size=20
)


def _reference(changes: list[tuple[Side, Side]]) -> tuple[dict[Decimal, Decimal], dict[Decimal, Decimal]]:
    """The book by plain replay, independent of the sequencer."""
    bids = {Decimal(p): Decimal(q) for p, q in (("99", "1"), ("98", "2"), ("97", "3"))}
    asks = {Decimal(p): Decimal(q) for p, q in (("101", "1"), ("102", "2"))}
    for bid_changes, ask_changes in changes:
        for book, side in ((bids, bid_changes), (asks, ask_changes)):
            for p, q in side:
                book[Decimal(p)] = Decimal(q)
    return {p: q for p, q in bids.items() if q}, {p: q for p, q in asks.items() if q}


@settings(max_examples=300)
@given(updates, st.integers(0, 2**32), st.integers(0, 3))
def test_any_permutation_within_the_reorder_window_yields_the_in_order_book(
    changes: list[tuple[Side, Side]], seed: int, offset: int
) -> None:
    frames = [depth(101 + i, bids, asks) for i, (bids, asks) in enumerate(changes)]
    rng = random.Random(seed)
    delivered: list[IncrementalDepth] = []
    chunks = [frames[:offset], *(frames[i : i + 4] for i in range(offset, len(frames), 4))]
    for chunk in chunks:  # at most 3 frames wait for a missing predecessor
        shuffled = list(chunk)
        rng.shuffle(shuffled)
        delivered.extend(shuffled)
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    applied = [u.last_update_id for frame in delivered for u in seq.feed(frame).applied]
    assert applied == [f.last_update_id for f in frames]
    bids, asks = _reference(changes)
    assert seq.book(100) == (sorted(bids.items(), reverse=True), sorted(asks.items()))
    assert (seq.resyncs, seq.duplicates) == (0, 0)
    for frame in rng.sample(delivered, k=min(3, len(delivered))):
        assert seq.feed(frame).status == "duplicate"
    assert seq.book(100) == (sorted(bids.items(), reverse=True), sorted(asks.items()))
