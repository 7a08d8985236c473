"""One requeue path: the status says when an object is due, the sweep nudges it, and a nudge does
only what is due; exchange metadata is read on its schedule or when a person asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tradeplane.crds.annotations import RECONCILE_DUE_AT, RECONCILE_REQUESTED_AT
from tradeplane.crds.common import format_time
from tradeplane.operator.handlers import requested
from tradeplane.operator.indexes import Indexed, index_id
from tradeplane.operator.resync import sweep_once
from tradeplane.reconcilers.instrument import metadata_due, venue_lacks_tiers
from tradeplane.reconcilers.requeue import recheck_due

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


class Annotations:
    def __init__(self) -> None:
        self.nudged: list[tuple[str, str, str, dict[str, str]]] = []

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.nudged.append((plural, namespace, name, annotations))


async def test_the_sweep_nudges_only_due_objects_with_its_own_annotation() -> None:
    kube = Annotations()

    def entry(name: str, due: datetime | None) -> Indexed:
        return Indexed(plural="instruments", name=name, ready=False, due=due)

    indexes: dict[str, Any] = {
        index_id("instruments"): {
            ("ns", "due"): [entry("due", T0 - timedelta(seconds=1))],
            ("ns", "later"): [entry("later", T0 + timedelta(seconds=1))],
            ("ns", "settled"): [entry("settled", None)],
        },
        "unrelated": {("ns", "x"): [True]},
    }
    assert await sweep_once(indexes, kube, T0) == 1  # type: ignore[arg-type]
    assert kube.nudged == [("instruments", "ns", "due", {RECONCILE_DUE_AT: "2026-11-01T12:00:00Z"})]
    assert RECONCILE_DUE_AT != RECONCILE_REQUESTED_AT, "a sweep nudge is not a person's request"


def test_a_due_time_in_status_is_what_brings_the_object_back() -> None:
    status = {
        "metadata": {"nextSyncTime": format_time(T0 + HOUR)},
        "ingest": {"nextCheckTime": format_time(T0)},
    }
    assert recheck_due("Instrument", {}, status) == T0
    assert recheck_due("Instrument", {}, {"observedGeneration": 1}) is None


def metadata(next_sync: datetime | None) -> dict[str, Any]:
    found = {} if next_sync is None else {"nextSyncTime": format_time(next_sync)}
    return {"observedGeneration": 2, "metadata": found}


@pytest.mark.parametrize(
    ("status", "generation", "is_requested", "due"),
    [
        (metadata(T0 + HOUR / 2), 2, False, False),  # scheduled later: judge the stored snapshot
        (metadata(T0 + HOUR / 2), 2, True, True),  # a person asked
        (metadata(T0 + HOUR / 2), 3, False, True),  # the spec changed
        (metadata(T0), 2, False, True),  # the schedule came
        (metadata(None), 2, False, True),  # nothing read yet
        (None, 2, False, True),  # first pass
        (metadata(T0 + 2 * HOUR), 2, False, True),  # the Venue's refresh shrank below the wait
    ],
)
def test_metadata_is_read_only_when_due(
    status: dict[str, Any] | None, generation: int, is_requested: bool, due: bool
) -> None:
    assert metadata_due(status, generation=generation, now=T0, refresh=HOUR, requested=is_requested) is due


def test_a_request_is_the_requested_at_annotation_changing() -> None:
    assert requested([("change", ("metadata", "annotations", RECONCILE_REQUESTED_AT), "a", "b")])
    assert requested([("add", ("metadata", "annotations"), None, {RECONCILE_REQUESTED_AT: "now"})])
    assert not requested([("change", ("metadata", "annotations", RECONCILE_DUE_AT), "a", "b")])
    assert not requested([("change", ("spec", "symbol"), "a", "b")])
    assert not requested(None)


def test_a_venue_is_nudged_for_tiers_only_when_signed_and_missing_the_symbol() -> None:
    signed = {"credentials": {"secretRef": {"name": "s"}}}
    synced = {"marginTiers": [{"symbol": "XAUT-USDT"}]}
    assert venue_lacks_tiers(signed, {}, "XAUT-USDT")
    assert not venue_lacks_tiers(signed, synced, "XAUT-USDT")
    assert not venue_lacks_tiers({}, {}, "XAUT-USDT")
