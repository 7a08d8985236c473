"""The hash chain, pure: the canonical form is pinned, and every tampering is found where it happened.

Properties run derandomised (a fixed seed) so a failure reproduces on every machine.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tradeplane.runtime.audit import chain
from tradeplane.runtime.audit.chain import Anchor, ProblemKind
from tradeplane.runtime.audit.record import (
    GENESIS,
    AuditRecord,
    ObjectRef,
    Transition,
    canonical_json,
    rfc3339,
)

pytestmark = pytest.mark.unit

PROPERTY = settings(derandomize=True, max_examples=150, deadline=None)
START = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
OBJECT = ObjectRef(kind="Rollout", namespace="prod", name="gold-canary", uid="uid-1", generation=3)
DIGEST = hashlib.sha256(b"model").hexdigest()

text = st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=["Cs"]), max_size=12)
nonempty = text.filter(bool)
digests = st.binary(max_size=8).map(lambda b: hashlib.sha256(b).hexdigest())


@st.composite
def chains(draw: st.DrawFn, min_size: int = 1) -> list[AuditRecord]:
    """A chain of up to 10 records with arbitrary (valid) contents, built only by ``link``."""
    size = draw(st.integers(min_value=min_size, max_value=10))
    records: list[AuditRecord] = []
    at = START
    for _ in range(size):
        at += timedelta(microseconds=draw(st.integers(min_value=0, max_value=10**9)))
        records.append(
            chain.link(
                records[-1] if records else None,
                object=OBJECT.model_copy(update={"generation": draw(st.integers(0, 5))}),
                recorded_at=at,
                actor=draw(nonempty),
                from_state=draw(text),
                to_state=draw(text),
                reason=draw(nonempty),
                message=draw(text),
                evidence=draw(st.dictionaries(nonempty, digests, max_size=3)),
            )
        )
    return records


def build(size: int) -> list[AuditRecord]:
    records: list[AuditRecord] = []
    for index in range(size):
        records.append(
            chain.link(
                records[-1] if records else None,
                object=OBJECT,
                recorded_at=START + timedelta(seconds=index),
                actor="operator",
                from_state="Progressing",
                to_state="Paused",
                reason="StepReached",
                message=f"step {index}",
                evidence={"model": DIGEST},
            )
        )
    return records


def _altered(record: AuditRecord, field: str, draw: st.DrawFn) -> AuditRecord:
    """``record`` with exactly one stored column changed to a different value."""
    if field in ("kind", "namespace", "name", "uid", "generation"):
        current = getattr(record.object, field)
        value: Any = current + draw(st.integers(1, 9)) if field == "generation" else current + draw(nonempty)
        return record.model_copy(update={"object": record.object.model_copy(update={field: value})})
    if field == "recorded_at":
        return record.model_copy(update={field: record.recorded_at + timedelta(microseconds=1)})
    if field in ("prev_hash", "hash"):
        return record.model_copy(update={field: draw(digests.filter(lambda d: d != getattr(record, field)))})
    if field == "evidence":
        return record.model_copy(update={field: {**record.evidence, "\u00e9vidence": DIGEST}})
    return record.model_copy(update={field: getattr(record, field) + draw(nonempty)})


FIELDS = [
    "kind", "namespace", "name", "uid", "generation", "recorded_at", "actor", "from_state", "to_state",
    "reason", "message", "evidence", "prev_hash", "hash",
]  # fmt: skip


def test_canonical_json_is_stable_under_key_order() -> None:
    forward = {"b": 1, "a": {"y": [1, 2], "x": "é"}, "c": None}
    backward = {"c": None, "a": {"x": "é", "y": [1, 2]}, "b": 1}
    assert canonical_json(forward) == canonical_json(backward) == '{"a":{"x":"é","y":[1,2]},"b":1,"c":null}'

    [record] = build(1)
    shuffled = record.model_copy(update={"evidence": {"z": DIGEST, "a": DIGEST}})
    reordered = record.model_copy(update={"evidence": {"a": DIGEST, "z": DIGEST}})
    assert shuffled.canonical() == reordered.canonical()


def test_the_hashed_form_is_pinned_byte_for_byte() -> None:
    """Changing the serialisation would make every honest stored record fail: this pins it."""
    record = chain.link(
        None,
        object=OBJECT,
        recorded_at=datetime(2026, 11, 24, 21, 0, 0, 5, tzinfo=timezone(timedelta(hours=1))),
        actor="alice@example.com",
        from_state="Healthy",
        to_state="Degraded",
        reason="AnalysisFailed",
        message="p99 über limit",
        evidence={"model": DIGEST},
    )
    expected = (
        '{"actor":"alice@example.com","evidence":{"model":"' + DIGEST + '"},"from":"Healthy",'
        '"message":"p99 über limit","object":{"generation":3,"kind":"Rollout","name":"gold-canary",'
        '"namespace":"prod","uid":"uid-1"},"prev_hash":"' + GENESIS + '","reason":"AnalysisFailed",'
        '"seq":1,"time":"2026-11-24T20:00:00.000005Z","to":"Degraded"}'
    )
    assert record.canonical() == expected
    assert record.hash == hashlib.sha256((GENESIS + expected).encode()).hexdigest()
    assert record.seq == 1 and record.prev_hash == GENESIS


def test_rfc3339_is_utc_with_microseconds_and_refuses_naive_times() -> None:
    assert rfc3339(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        rfc3339(datetime(2026, 1, 2))
    [record] = build(1)
    with pytest.raises(ValidationError, match="timezone-aware"):
        AuditRecord.model_validate({**record.model_dump(), "recorded_at": datetime(2026, 1, 2)})


def test_transitions_validate_inputs_and_derive_the_idempotency_key() -> None:
    base = Transition(
        object=OBJECT, actor="op", from_state="ACTIVE", to_state="HALTED", reason="KillSwitch", token="4"
    )
    same = base.model_copy()
    assert base.idempotency_key == same.idempotency_key
    assert base.idempotency_key != base.model_copy(update={"token": "5"}).idempotency_key
    assert base.idempotency_key != base.model_copy(update={"to_state": "REDUCING"}).idempotency_key
    for bad in ({"evidence": {"model": "not-a-digest"}}, {"reason": ""}, {"message": "nul\x00"}):
        with pytest.raises(ValidationError):
            Transition.model_validate({**base.model_dump(), **bad})


@PROPERTY
@given(chains())
def test_any_linked_chain_verifies(records: list[AuditRecord]) -> None:
    assert chain.verify(records) is None
    assert chain.verify(records, Anchor(records[-1].seq, records[-1].hash)) is None
    assert chain.verify(list(reversed(records))) is None, "input order does not matter, seq does"
    assert [r.seq for r in records] == list(range(1, len(records) + 1))


@PROPERTY
@given(st.data(), chains(), st.sampled_from(FIELDS))
def test_any_single_field_alteration_is_located(
    data: st.DataObject, records: list[AuditRecord], field: str
) -> None:
    index = data.draw(st.integers(0, len(records) - 1))
    tampered = list(records)
    tampered[index] = _altered(records[index], field, data.draw)
    problem = chain.verify(tampered)
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.ALTERED, index + 1), problem.describe()


@PROPERTY
@given(st.data(), chains())
def test_an_altered_seq_is_located_at_the_seq_it_was_written_with(
    data: st.DataObject, records: list[AuditRecord]
) -> None:
    index = data.draw(st.integers(0, len(records) - 1))
    new_seq = data.draw(st.integers(-2, len(records) + 5).filter(lambda s: s != index + 1))
    tampered = list(records)
    tampered[index] = records[index].model_copy(update={"seq": new_seq})
    problem = chain.verify(tampered)
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.ALTERED, index + 1), problem.describe()


@PROPERTY
@given(st.data(), chains(min_size=2))
def test_any_deletion_is_located(data: st.DataObject, records: list[AuditRecord]) -> None:
    index = data.draw(st.integers(0, len(records) - 1))
    remaining = records[:index] + records[index + 1 :]
    anchor = Anchor(records[-1].seq, records[-1].hash)
    problem = chain.verify(remaining, anchor)
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.MISSING, index + 1), problem.describe()
    if index < len(records) - 1:  # inside the chain: found without the anchor too
        assert chain.verify(remaining) == problem
    else:  # the newest record: only the anchor can tell
        assert chain.verify(remaining) is None
    assert problem.describe() == f"record seq {index + 1} is missing (deleted)"


@PROPERTY
@given(st.data(), chains(min_size=2))
def test_any_swap_of_two_records_is_located(data: st.DataObject, records: list[AuditRecord]) -> None:
    first, second = sorted(
        data.draw(st.lists(st.integers(0, len(records) - 1), min_size=2, max_size=2, unique=True))
    )
    tampered = list(records)
    tampered[first] = records[first].model_copy(update={"seq": records[second].seq})
    tampered[second] = records[second].model_copy(update={"seq": records[first].seq})
    tampered.sort(key=lambda r: r.seq)  # as the database returns them: by seq
    problem = chain.verify(tampered)
    assert problem is not None
    assert (problem.kind, problem.seq, problem.other_seq) == (ProblemKind.OUT_OF_ORDER, first + 1, second + 1)
    assert problem.describe() == f"records seq {first + 1} and {second + 1} are out of order"


def test_a_range_of_deleted_records_is_named_as_a_range() -> None:
    records = build(8)
    problem = chain.verify(records[:2] + records[5:])
    assert problem is not None and problem.describe() == "records seq 3 to 5 are missing (deleted)"
    truncated = chain.verify(records[:5], Anchor(8, records[-1].hash))
    assert truncated is not None and truncated.describe() == "records seq 6 to 8 are missing (deleted)"


def test_a_rewrite_with_recomputed_hash_breaks_the_next_link_or_the_anchor() -> None:
    records = build(5)
    forged = records[2].model_copy(update={"message": "nothing happened"})
    forged = forged.model_copy(update={"hash": forged.computed_hash()})
    problem = chain.verify([*records[:2], forged, *records[3:]])
    assert problem is not None
    assert (problem.kind, problem.seq) == (ProblemKind.BROKEN_LINK, 4)
    assert problem.describe().startswith("record seq 4 does not link to seq 3 (prev_hash mismatch")

    forged_head = records[4].model_copy(update={"to_state": "Healthy"})
    forged_head = forged_head.model_copy(update={"hash": forged_head.computed_hash()})
    assert chain.verify([*records[:4], forged_head]) is None, "a rewritten head needs the anchor"
    anchored = chain.verify([*records[:4], forged_head], Anchor(5, records[4].hash))
    assert anchored is not None and (anchored.kind, anchored.seq) == (ProblemKind.ALTERED, 5)
    assert chain.verify(records, Anchor(3, records[2].hash)) is None, "status may lag behind the log"
    assert chain.verify(records, Anchor(0, GENESIS)) is None, "an object with no transitions yet"


def test_forks_are_named() -> None:
    records = build(3)
    rival = chain.link(
        records[1],
        object=OBJECT,
        recorded_at=START,
        actor="second-operator",
        from_state="Paused",
        to_state="Aborted",
        reason="Abort",
    )
    same_seq = chain.verify([*records, rival])
    assert same_seq is not None and (same_seq.kind, same_seq.seq) == (ProblemKind.FORKED, 3)

    later = chain.link(
        records[0], object=OBJECT, recorded_at=START, actor="x", from_state="a", to_state="b", reason="R"
    ).model_copy(update={"seq": 4})
    later = later.model_copy(update={"hash": later.computed_hash()})
    forked = chain.verify([*records, later])
    assert forked is not None
    assert (forked.kind, forked.seq, forked.other_seq) == (ProblemKind.FORKED, 2, 4)
    assert forked.describe() == "the chain is forked at seq 2 (seq 2 and seq 4 both follow seq 1)"


def test_chains_are_grouped_and_labelled_by_uid() -> None:
    other = OBJECT.model_copy(update={"uid": "uid-2", "name": "gold-stable"})
    second = [r.model_copy(update={"object": other}) for r in build(2)]
    groups = chain.group_by_uid([*build(2), *second])
    assert sorted(groups) == ["uid-1", "uid-2"]
    assert chain.chain_label(groups["uid-1"]) == "Rollout/prod/gold-canary"
    broken = groups["uid-2"][1:]
    problem = chain.verify(broken)
    assert problem is not None
    assert chain.describe(broken, problem) == "Rollout/prod/gold-stable: record seq 1 is missing (deleted)"
