"""The Kubernetes anchors of a chain: ``status.audit`` and one Event per transition."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

import pytest

from tradeplane.runtime.audit import chain, kube
from tradeplane.runtime.audit.record import AuditRecord, ObjectRef

pytestmark = pytest.mark.unit

OBJECT = ObjectRef(kind="RiskPolicy", namespace="prod", name="limits", uid="uid-7", generation=4)
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def record(message: str = "daily loss 3.1% > 3%", name: str = "limits") -> AuditRecord:
    first = chain.link(
        None,
        object=OBJECT.model_copy(update={"name": name}),
        recorded_at=datetime(2026, 11, 24, 21, 30, 15, 123456, tzinfo=UTC),
        actor="operator",
        from_state="ACTIVE",
        to_state="REDUCING",
        reason="DailyLossBreached",
        message=message,
        evidence={"policy": hashlib.sha256(b"policy").hexdigest()},
    )
    return chain.link(
        first,
        object=first.object,
        recorded_at=first.recorded_at,
        actor="operator",
        from_state="REDUCING",
        to_state="HALTED",
        reason="DrawdownBreached",
        message=message,
    )


def test_status_audit_is_the_head() -> None:
    head = record()
    assert kube.status_audit(head) == {"seq": 2, "headHash": f"sha256:{head.hash}"}


def test_event_carries_reason_transition_and_hash() -> None:
    head = record()
    reference = {"apiVersion": "tradeplane.io/v1alpha1", "kind": "RiskPolicy", "name": "limits",
                 "namespace": "prod", "uid": "uid-7", "resourceVersion": "41"}  # fmt: skip
    body = kube.event_body(head, reference)
    assert body["apiVersion"] == "v1" and body["kind"] == "Event"
    assert body["reason"] == "DrawdownBreached"
    assert body["message"] == f"REDUCING -> HALTED: daily loss 3.1% > 3% (audit seq 2, hash {head.hash})"
    assert body["metadata"]["annotations"][kube.AUDIT_HASH] == head.hash
    assert body["metadata"]["namespace"] == "prod"
    assert body["involvedObject"] == reference
    assert body["firstTimestamp"] == body["lastTimestamp"] == "2026-11-24T21:30:15Z"
    assert body["type"] == "Normal" and body["count"] == 1
    assert kube.event_body(head, reference, event_type="Warning")["type"] == "Warning"


def test_event_accepts_the_whole_object_and_is_named_deterministically() -> None:
    head = record()
    whole = {"apiVersion": "tradeplane.io/v1alpha1", "kind": "RiskPolicy",
             "metadata": {"name": "limits", "namespace": "prod", "uid": "uid-7", "labels": {"a": "b"}},
             "spec": {"killSwitch": True}}  # fmt: skip
    body = kube.event_body(head, whole)
    assert body["involvedObject"] == {
        "apiVersion": "tradeplane.io/v1alpha1",
        "kind": "RiskPolicy",
        "name": "limits",
        "namespace": "prod",
        "uid": "uid-7",
    }
    assert body["metadata"]["name"] == kube.event_body(head, whole)["metadata"]["name"], "a retry is a 409"
    assert body["metadata"]["name"] == f"limits.audit-2-{head.hash[:12]}"


def test_long_messages_and_names_are_cut_but_the_hash_survives() -> None:
    head = record(message="x" * 5000, name="a" * 240 + ".b")
    body = kube.event_body(head, {"kind": "RiskPolicy", "name": head.object.name, "namespace": "prod"})
    assert len(body["message"]) <= kube.MESSAGE_LIMIT
    assert body["message"].endswith(f"... (audit seq 2, hash {head.hash})")
    name = body["metadata"]["name"]
    assert len(name) <= 253 and DNS_SUBDOMAIN.fullmatch(name), name
