"""The engine carries out a plan in one documented order, and only the engine changes anything.

Snapshot rows first (their outcome is the decision's input), then the plan's effects in its order,
then audit records with their Events, then the status; a pass that fails part way leaves no status
behind, so the next pass repeats the same idempotent steps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import kopf
import pytest
from pydantic import BaseModel

from tradeplane.crds.registry import BY_KIND
from tradeplane.operator import engine
from tradeplane.operator.engine import KindDecider, OperatorContext, Pass, run_pass
from tradeplane.reconcilers.plan import (
    AnnotateObject,
    ApplyWorkload,
    AuditEntry,
    Decision,
    Plan,
    Recording,
    RecordSnapshot,
    StopWorkload,
    Stored,
)
from tradeplane.runtime.audit.record import AuditRecord, Transition
from tradeplane.runtime.venue.snapshots import Observation, Recorded, Snapshot, SnapshotKey
from tradeplane.runtime.workloads.spec import WorkloadKind, WorkloadSpec, WorkloadStatus

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 1, tzinfo=UTC)
KEY = SnapshotKey("ns", "bingx", "contract", "XAUT-USDT")
WORKLOAD = WorkloadSpec(name="w", namespace="ns", kind=WorkloadKind.SERVICE, component="c", command=("x",))


class Spec(BaseModel):
    symbol: str


class Journal:
    """Every side effect the engine takes, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []


class FakeKube:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    async def annotate(self, plural: str, namespace: str, name: str, annotations: dict[str, str]) -> None:
        self.journal.calls.append(("annotate", plural, namespace, name, annotations))

    async def post_event(self, namespace: str, body: dict[str, Any]) -> None:
        self.journal.calls.append(("event", namespace, body["reason"]))


class FakeDriver:
    runs_in_pods = False
    owns_cleanup = True

    def __init__(self, journal: Journal) -> None:
        self.journal = journal

    def apply(self, spec: WorkloadSpec) -> None:
        self.journal.calls.append(("apply", spec.name))

    def status(self, spec: WorkloadSpec) -> WorkloadStatus:
        return WorkloadStatus(exists=False)

    def failure_detail(self, spec: WorkloadSpec) -> str | None:
        return None

    def delete(self, ref: Any) -> None:
        self.journal.calls.append(("delete", ref.name))

    def close(self) -> None:
        pass


def snapshot(version: int) -> Snapshot:
    return Snapshot(
        id=40 + version,
        key=KEY,
        version=version,
        fingerprint="sha256:ab",
        normalised={},
        problem=None,
        fetched_at=T0,
        confirmed_at=T0,
        valid_until=T0 + timedelta(hours=1),
    )


@pytest.fixture
def journal(monkeypatch: pytest.MonkeyPatch) -> Journal:
    journal = Journal()

    async def record(_db: Any, key: SnapshotKey, observation: Observation, **_: Any) -> Recorded:
        journal.calls.append(("snapshot", key.subject, observation.fingerprint))
        return Recorded(current=snapshot(2), replaced=snapshot(1), created=True)

    async def append(_db: Any, transition: Transition) -> AuditRecord:
        journal.calls.append(("append", transition.to_state, transition.token))
        return AuditRecord.model_construct(seq=1, hash="h" * 64, reason=transition.reason)

    monkeypatch.setattr(engine.snapshots, "record", record)
    monkeypatch.setattr(engine, "append", append)
    monkeypatch.setattr(engine, "status_audit", lambda record: {"seq": record.seq})
    monkeypatch.setattr(engine, "event_body", lambda record, body: {"reason": record.reason})
    return journal


def context(journal: Journal) -> OperatorContext:
    return OperatorContext(kube=FakeKube(journal), database=None, workloads=FakeDriver(journal))  # type: ignore[arg-type]


def body() -> kopf.Body:
    return kopf.Body(
        {
            "apiVersion": "tradeplane.io/v1alpha1",
            "kind": "Instrument",
            "metadata": {"name": "i", "namespace": "ns", "uid": "u-1", "generation": 3},
            "spec": {"symbol": "XAUT-USDT"},
        }
    )


def observation() -> Observation:
    return Observation(raw={}, normalised={"a": 1}, fingerprint="sha256:ab")


async def test_effects_run_in_the_documented_order_and_the_status_comes_last(journal: Journal) -> None:
    seen: list[Stored] = []

    def then(stored: Stored) -> Plan:
        seen.append(stored)
        version = stored[KEY].current.version
        return Plan(
            status={"observedGeneration": 3, "version": version},
            audit=(AuditEntry("v1", f"v{version}", "MetadataChanged", "new version"),),
            effects=(
                ApplyWorkload(WORKLOAD),
                AnnotateObject("venues", "bingx", {"k": "v"}),
                StopWorkload(WORKLOAD.ref),
            ),
        )

    async def decide(step: Pass[Spec], _context: OperatorContext) -> Decision:
        assert step.spec.symbol == "XAUT-USDT" and step.requested
        return Recording((RecordSnapshot(KEY, observation(), timedelta(hours=1)),), then)

    patch = kopf.Patch()
    await run_pass(
        BY_KIND["Instrument"], body(), patch, context(journal), KindDecider(Spec, decide), requested=True
    )
    assert journal.calls == [
        ("snapshot", "XAUT-USDT", "sha256:ab"),
        ("apply", "w"),
        ("annotate", "venues", "ns", "bingx", {"k": "v"}),
        ("delete", "w"),
        ("append", "v2", "0:0"),
        ("event", "ns", "MetadataChanged"),
    ]
    assert seen[0][KEY].created is True
    assert patch.status == {"observedGeneration": 3, "version": 2, "audit": {"seq": 1}}


async def test_a_failing_effect_leaves_the_status_unwritten_for_the_retry(journal: Journal) -> None:
    class Broken(FakeDriver):
        def apply(self, spec: WorkloadSpec) -> None:
            raise OSError("disk full")

    async def decide(_step: Pass[Spec], _context: OperatorContext) -> Decision:
        return Plan(
            status={"observedGeneration": 3},
            audit=(AuditEntry("a", "b", "R", "m"),),
            effects=(ApplyWorkload(WORKLOAD),),
        )

    failing = context(journal)
    failing.workloads = Broken(journal)
    patch = kopf.Patch()
    with pytest.raises(kopf.TemporaryError, match="disk full"):
        await run_pass(BY_KIND["Instrument"], body(), patch, failing, KindDecider(Spec, decide))
    assert journal.calls == [] and dict(patch.status) == {}


async def test_a_plan_with_workloads_needs_a_driver(journal: Journal) -> None:
    async def decide(_step: Pass[Spec], _context: OperatorContext) -> Decision:
        return Plan(status={}, effects=(ApplyWorkload(WORKLOAD),))

    driverless = context(journal)
    driverless.workloads = None
    with pytest.raises(kopf.TemporaryError, match="no workload driver"):
        await run_pass(BY_KIND["Instrument"], body(), kopf.Patch(), driverless, KindDecider(Spec, decide))


async def test_an_unreadable_spec_stalls_with_its_location(journal: Journal) -> None:
    class Strict(BaseModel):
        symbol: int

    async def decide(_step: Pass[Strict], _context: OperatorContext) -> Decision:
        raise AssertionError("never decided")

    patch = kopf.Patch()
    await run_pass(BY_KIND["Instrument"], body(), patch, context(journal), KindDecider(Strict, decide))
    ready = next(c for c in patch.status["conditions"] if c["type"] == "Ready")
    assert ready["reason"] == "InvalidSpec" and ready["message"].startswith("spec.symbol: ")
    assert journal.calls == []


def test_plan_workloads_are_its_apply_effects() -> None:
    plan = Plan(status={}, effects=(AnnotateObject("venues", "v", {}), ApplyWorkload(WORKLOAD)))
    assert plan.workloads == (WORKLOAD,)
