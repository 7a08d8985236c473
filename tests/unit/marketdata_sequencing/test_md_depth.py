"""DepthSequencer: snapshot then contiguous ids, a 3-frame reorder buffer, duplicates dropped, an
unrepairable break makes it unsynced until a new snapshot. replay_book: the book from what the
sequencer let through, refusing a missing snapshot, a hole or a crossed result."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tradeplane.runtime.marketdata.depth_book import Book, replay_book
from tradeplane.runtime.marketdata.sequencing import BookNotSynced, DepthSequencer
from tradeplane.runtime.venue import depth_levels
from tradeplane.runtime.venue.payloads_market import IncrementalDepth, decode_market

pytestmark = pytest.mark.unit

Side = list[tuple[str, str]]


def depth(ident: int, bids: Side = (), asks: Side = (), *, action: str = "update") -> IncrementalDepth:  # type: ignore[assignment]
    data = {"action": action, "lastUpdateId": ident, "time": 1_717_200_000_000, "bids": bids, "asks": asks}
    event = decode_market("BTC-USDT@incrDepth", json.dumps(data).encode())
    assert isinstance(event, IncrementalDepth)
    return event


SNAPSHOT = depth(100, [("99", "1"), ("98", "2"), ("97", "3")], [("101", "1"), ("102", "2")], action="all")


def levels(*pairs: tuple[str, str]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in pairs]


def replay(updates: list[IncrementalDepth]) -> Book:
    return replay_book(
        (u.action, u.last_update_id, depth_levels.pairs(bytes(u.bids)), depth_levels.pairs(bytes(u.asks)))
        for u in updates
    )


def test_updates_before_a_snapshot_are_not_let_through() -> None:
    seq = DepthSequencer()
    step = seq.feed(depth(1, [("1", "1")]))
    assert (step.status, step.synced, step.applied) == ("unsynced", False, ())


def test_snapshot_then_contiguous_updates_add_replace_and_delete_levels() -> None:
    seq = DepthSequencer()
    step = seq.feed(SNAPSHOT)
    assert (step.status, step.reset, step.applied) == ("applied", True, (SNAPSHOT,))
    update = depth(101, [("99", "0"), ("98", "5"), ("96.5", "1")], [("100.5", "4"), ("105", "0")])
    assert seq.feed(update).applied == (update,)
    book = replay([SNAPSHOT, update])
    assert book.top(2) == (levels(("98", "5"), ("97", "3")), levels(("100.5", "4"), ("101", "1")))
    assert book.top(10)[0] == levels(("98", "5"), ("97", "3"), ("96.5", "1"))
    assert (seq.last_update_id, book.last_update_id, seq.applied) == (101, 101, 2)


def test_out_of_order_within_the_buffer_is_released_once_the_predecessor_arrives() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    u101, u102, u103 = depth(101, [("99", "7")]), depth(102, [("99", "8")]), depth(103, [("99", "9")])
    assert seq.feed(u103).status == "buffered"
    assert seq.feed(u102).status == "buffered"
    step = seq.feed(u101)
    assert (step.status, step.applied) == ("applied", (u101, u102, u103))
    assert replay([SNAPSHOT, *step.applied]).top(1)[0] == levels(("99", "9"))
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


def test_a_break_the_buffer_cannot_repair_requires_a_resync_and_a_new_snapshot() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    for ident in (102, 103, 104):
        assert seq.feed(depth(ident)).status == "buffered"
    step = seq.feed(depth(105))
    assert (step.status, step.synced) == ("resync_required", False)
    assert seq.resyncs == 1
    assert seq.feed(depth(101)).status == "unsynced"
    again = depth(200, [("50", "1")], [("51", "1")], action="all")
    assert seq.feed(again).reset
    assert replay([again]).top(5) == (levels(("50", "1")), levels(("51", "1")))


def test_a_snapshot_releases_buffered_updates_that_follow_it_and_drops_older_ones() -> None:
    seq = DepthSequencer()
    seq.feed(SNAPSHOT)
    seq.feed(depth(103, [("99", "3")]))
    seq.feed(depth(106, [("99", "6")]))
    snap = depth(105, [("99", "5")], [("101", "1")], action="all")
    step = seq.feed(snap)
    assert [u.last_update_id for u in step.applied] == [105, 106]
    assert replay(list(step.applied)).top(1)[0] == levels(("99", "6"))
    assert seq.last_update_id == 106


def test_no_book_is_served_without_a_snapshot_across_a_hole_or_crossed() -> None:
    with pytest.raises(BookNotSynced, match="no snapshot"):
        replay([])
    with pytest.raises(BookNotSynced, match="no snapshot before"):
        replay([depth(101, [("99", "1")])])
    with pytest.raises(BookNotSynced, match=r"102\.\.102 are missing"):
        replay([SNAPSHOT, depth(101), depth(103)])
    with pytest.raises(BookNotSynced, match="crossed"):
        replay([SNAPSHOT, depth(101, [("101.5", "1")])])
    with pytest.raises(BookNotSynced, match="crossed"):
        replay([depth(300, [("10", "1")], [("9", "1")], action="all")])


def test_a_later_snapshot_replaces_the_book_and_zero_quantities_are_no_levels() -> None:
    book = replay(
        [SNAPSHOT, depth(101, [("99", "2")]), depth(400, [("5", "0"), ("4", "1")], [], action="all")]
    )
    assert book.top(5) == (levels(("4", "1")), [])
    assert book.last_update_id == 400


def test_one_price_spelled_two_ways_is_one_level() -> None:
    book = replay([SNAPSHOT, depth(101, [("99.0", "0"), ("98.00", "4")])])
    assert book.top(5)[0] == levels(("98", "4"), ("97", "3"))


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
    stored = list(seq.feed(SNAPSHOT).applied)
    stored += [u for frame in delivered for u in seq.feed(frame).applied]
    assert [u.last_update_id for u in stored[1:]] == [f.last_update_id for f in frames]
    bids, asks = _reference(changes)
    assert replay(stored).top(100) == (sorted(bids.items(), reverse=True), sorted(asks.items()))
    assert (seq.resyncs, seq.duplicates) == (0, 0)
    for frame in rng.sample(delivered, k=min(3, len(delivered))):
        assert seq.feed(frame).status == "duplicate"
