"""When an object must be looked at again although nothing about it changed.

Most verdicts only change when the object or something it references changes, and kopf sees those.
Some do not: a reference that does not exist yet (it may be created in any order), a Secret that
does not exist yet (Secrets are deliberately not watched: the operator may only ``get`` them), a
RiskPolicy resume waiting out its cooldown, a FeatureSet's build Job or schedule (``nextCheckTime``),
and anything read from the exchange (metadata, fees, the account), which is re-read at
``nextSyncTime`` and goes stale at ``validUntil``. This pure rule
says when such an object is due; the operator's resync sweep nudges due objects instead of running
a timer (and a finalizer) on every object. It is the only requeue path: a reconciler that wants
another look writes the time into status (or a verdict this rule knows), never a timer of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tradeplane.crds.common import parse_duration, parse_time
from tradeplane.crds.riskpolicy import KillSwitch
from tradeplane.reconcilers.conditions import raw_ready

DUE_NOW = datetime.min.replace(tzinfo=UTC)
UNWATCHED_SECRET_REASONS = frozenset({"SecretNotFound", "SecretKeyMissing"})
"""Verdicts about a Secret: its creation or edit raises no event the operator sees."""
VENUE_FAILURE_REASONS = frozenset(
    {"VenueUnreachable", "VenueRateLimited", "VenuePayloadInvalid", "ClockSkew", "AuthenticationFailed"}
)
"""Verdicts about the exchange before anything was stored: retried at every sweep."""


def recheck_due(kind: str, spec: Mapping[str, Any], status: Mapping[str, Any] | None) -> datetime | None:
    """The time from which the object should be reconciled again, or None if it need not be."""
    status = status or {}
    ready = raw_ready(status)
    reason = str(ready.get("reason")) if ready is not None else None
    if reason is not None and (
        reason.endswith("NotFound") or reason in UNWATCHED_SECRET_REASONS or reason in VENUE_FAILURE_REASONS
    ):
        return DUE_NOW
    planned = [
        parse_time(status.get("nextSyncTime")),
        parse_time((status.get("metadata") or {}).get("nextSyncTime")),
        parse_time((status.get("ingest") or {}).get("nextCheckTime")),
        parse_time(status.get("nextCheckTime")),
    ]
    if due := [time for time in planned if time is not None]:
        return min(due)
    if kind != "RiskPolicy" or status.get("state") != "HALTED":
        return None
    requested = status.get("requested") or {}
    since = parse_time(status.get("stateSince"))
    asked = parse_time(requested.get("time"))
    if requested.get("state") != "ACTIVE" or since is None or asked is None or asked < since:
        return None
    cooldown = KillSwitch.model_validate(spec.get("killSwitch") or {}).resume_cooldown
    return since + parse_duration(cooldown)
