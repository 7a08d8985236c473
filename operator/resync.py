"""The operator-wide resync sweep: nudge objects that are due for another look.

Per-object kopf timers would do this too, but every timer puts a finalizer on every object: each
create then costs an extra PATCH and a consistency wait, and deleting anything hangs while the
operator is down. One sweep over an index of due objects needs neither. A nudge is the annotation
``reconcile.tradeplane.io/due-at``, which kopf sees as a change and answers with the ordinary
reconcile handler; the pass then does what is due by the status, nothing more.

``reconcile.tradeplane.io/requested-at`` (Flux's ``requestedAt`` pattern) is a person's request:
changing it also reads now what is otherwise read on a schedule (exchange metadata). The sweep
never sets it, or every due ingest check would re-read the venue's metadata.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from tradeplane.crds.annotations import RECONCILE_DUE_AT
from tradeplane.operator.indexes import due_objects
from tradeplane.operator.kube import KubeClient

logger = logging.getLogger(__name__)


async def sweep_once(indexes: Mapping[str, Any], kube: KubeClient, now: datetime) -> int:
    """Nudge every object whose due time has come; returns how many were nudged."""
    stamp = now.isoformat().replace("+00:00", "Z")
    nudged = 0
    for namespace, entry in due_objects(indexes):
        if entry.due is not None and entry.due <= now and namespace is not None:
            await kube.annotate(entry.plural, namespace, entry.name, {RECONCILE_DUE_AT: stamp})
            nudged += 1
    return nudged


async def sweep_forever(indexes: Mapping[str, Any], kube: KubeClient, interval: float) -> None:
    """Runs for the operator's lifetime; a failed sweep is logged and the next one tries again."""
    while True:
        await asyncio.sleep(interval)  # the sweep's cadence
        try:
            await sweep_once(indexes, kube, datetime.now(UTC))
        except Exception:
            logger.exception("resync sweep failed; retrying at the next interval")
