"""The two anchors of a chain in Kubernetes: ``status.audit`` and one Event per transition.

The database holds the log; these copies of the head hash live where the database's owner cannot
rewrite them, so a truncated or rewritten log no longer matches what the cluster saw. Both are
pure builders: the operator sends them with its own client.

The Event name is derived from the record, so re-sending it after a crash gets AlreadyExists
instead of a second Event for the same transition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tradeplane.crds.annotations import AUDIT_HASH, AUDIT_SEQ
from tradeplane.runtime.audit.record import AuditRecord

COMPONENT = "tradeplane-operator"
MESSAGE_LIMIT = 1024
"""core/v1 Events are rejected above this; the hash is kept, the free text is shortened."""
_NAME_LIMIT = 253
_INVOLVED_KEYS = ("apiVersion", "kind", "name", "namespace", "uid", "resourceVersion", "fieldPath")


def status_audit(record: AuditRecord) -> dict[str, Any]:
    """The value of ``status.audit``; the hash as a ``sha256:<hex>`` fingerprint, like every digest
    the custom resources carry (the CRD schema enforces that form)."""
    return {"seq": record.seq, "headHash": f"sha256:{record.hash}"}


def event_name(record: AuditRecord) -> str:
    suffix = f".audit-{record.seq}-{record.hash[:12]}"
    # rstrip: a cut name must not end in "." or "-" (the result must stay a DNS subdomain).
    return f"{record.object.name[: _NAME_LIMIT - len(suffix)].rstrip('.-')}{suffix}"


def event_message(record: AuditRecord) -> str:
    """``from -> to: message (audit seq N, hash H)``, shortened in the middle, never the hash."""
    source = record.from_state or "(none)"
    head = f"{source} -> {record.to_state}"
    tail = f" (audit seq {record.seq}, hash {record.hash})"
    text = f": {record.message}" if record.message else ""
    room = MESSAGE_LIMIT - len(head) - len(tail)
    if len(text) > room:
        text = text[: max(room - 3, 0)] + "..."
    return f"{head}{text}{tail}"


def event_body(
    record: AuditRecord,
    involved_object: Mapping[str, Any],
    *,
    event_type: str = "Normal",
    reporting_instance: str = COMPONENT,
) -> dict[str, Any]:
    """A core/v1 Event for ``record`` about ``involved_object`` (an object reference or the object)."""
    metadata = involved_object.get("metadata")
    if isinstance(metadata, Mapping):  # the whole object was passed: take its reference
        involved = {
            "apiVersion": involved_object.get("apiVersion"),
            "kind": involved_object.get("kind"),
            **{k: metadata.get(k) for k in ("name", "namespace", "uid", "resourceVersion")},
        }
    else:
        involved = {k: involved_object.get(k) for k in _INVOLVED_KEYS}
    involved = {k: v for k, v in involved.items() if v is not None}
    namespace = involved.get("namespace") or record.object.namespace or "default"
    timestamp = record.recorded_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": event_name(record),
            "namespace": namespace,
            "annotations": {AUDIT_HASH: record.hash, AUDIT_SEQ: str(record.seq)},
        },
        "involvedObject": involved,
        "reason": record.reason,
        "message": event_message(record),
        "type": event_type,
        "action": record.to_state,
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": reporting_instance,
        "firstTimestamp": timestamp,
        "lastTimestamp": timestamp,
        "count": 1,
    }
