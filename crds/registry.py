"""Every kind tradeplane serves, in the order the CRDs are generated and installed."""

from __future__ import annotations

from tradeplane.crds import featureset, instrument, model, modelversion, riskpolicy, rollout, venue
from tradeplane.crds.common import KindInfo

KINDS: tuple[KindInfo, ...] = (
    venue.INFO,
    instrument.INFO,
    featureset.INFO,
    model.INFO,
    modelversion.INFO,
    rollout.INFO,
    riskpolicy.INFO,
)

BY_KIND: dict[str, KindInfo] = {info.kind: info for info in KINDS}
