"""The reference for ``benchmarks/reconcile.py``: a kopf operator that does nothing but mark each
object reconciled (observedGeneration and Ready), with kopf's default settings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import kopf

from tradeplane.crds.common import GROUP, VERSION
from tradeplane.crds.registry import KINDS


def _mark(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    ready = {"type": "Ready", "status": "True", "reason": "NoOp", "message": "", "lastTransitionTime": now}
    patch.status["observedGeneration"] = body.metadata.get("generation")
    patch.status["conditions"] = [ready]


for _info in KINDS:
    kopf.on.create(GROUP, VERSION, _info.plural, id="noop")(_mark)
    kopf.on.resume(GROUP, VERSION, _info.plural, id="noop")(_mark)
