"""THE metadata keys (annotations and labels) tradeplane puts on Kubernetes objects, under one scheme.

Every key lives under the API group ``tradeplane.io``, in one of three shapes:

- ``tradeplane.io/<name>``: what tradeplane itself writes and reads back (the audit hash and
  sequence on an Event, the last operator command, the finalizer, the workload labels, and kopf's
  own bookkeeping, which is given the same prefix). A user never needs to set one.
- ``<action>.tradeplane.io/requested-at``: what a user (or ``kubectl tradeplane``) sets to ask for
  an action now; any new value asks once, the value itself is an RFC 3339 time for the record
  (Flux's ``reconcile.fluxcd.io/requestedAt`` pattern). Actions: ``reconcile`` (look again now)
  and ``dataset`` (build a FeatureSet's dataset now).
- ``<action>.tradeplane.io/due-at``: the operator's own nudge when something is due (the resync
  sweep, or an Instrument asking its Venue for a new symbol's tiers). It cannot be a
  ``tradeplane.io/`` key: kopf ignores changes under its own bookkeeping prefix, so such a nudge
  would start no pass. Unlike ``requested-at`` it asks only for what is due.

The keys keep the names objects in clusters already carry; new keys follow the same three shapes.
Dependency-light: every layer (operator, reconcilers, CLIs, audit) reads its keys from here.
"""

from __future__ import annotations

from tradeplane.crds import common

PREFIX = common.GROUP
"""``tradeplane.io``; also kopf's annotation prefix for its progress and last-handled state."""


def owned(name: str) -> str:
    """A key tradeplane writes itself: ``tradeplane.io/<name>``."""
    return f"{PREFIX}/{name}"


def request(action: str) -> str:
    """The key a user sets to request ``action`` now: ``<action>.tradeplane.io/requested-at``."""
    return f"{action}.{PREFIX}/requested-at"


# ---- written by tradeplane -------------------------------------------------------------------

AUDIT_HASH = owned("audit-hash")
"""On a core/v1 Event: the audit record's chain hash."""
AUDIT_SEQ = owned("audit-seq")
"""On a core/v1 Event: the audit record's sequence number."""
LAST_COMMAND = owned("last-command")
"""On a resource: the last operator command (promote, abort, halt) and when it was given."""
FINALIZER = owned("finalizer")
INSTRUMENT_LABEL = owned("instrument")
"""Label on an ingest workload: the Instrument it serves."""
FEATURESET_LABEL = owned("featureset")
"""Label on a dataset-build workload: the FeatureSet it builds."""

# ---- set by a user to request an action ------------------------------------------------------

RECONCILE_REQUESTED_AT = request("reconcile")
"""Any new value makes the operator reconcile the object now, reading at once what it otherwise
reads on a schedule (an Instrument's exchange metadata)."""
RECONCILE_DUE_AT = f"reconcile.{PREFIX}/due-at"
"""Set by the operator itself: look again now, doing only what is due."""
DATASET_REQUESTED_AT = request("dataset")
"""Any new value on a FeatureSet starts a new dataset build."""
