"""The sample FeatureSet and the reconciler inputs built from it, shared by the FeatureSet unit tests."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.reconcilers.dataset_build import BuildTarget
from tradeplane.reconcilers.featureset import FeatureSetInputs
from tradeplane.reconcilers.references import Observed, references
from tradeplane.runtime.features.contract import FeatureContract

ROOT = Path(__file__).resolve().parents[3]
T0 = datetime(2026, 11, 24, 12, 0, 30, tzinfo=UTC)
SAMPLE = yaml.safe_load((ROOT / "manifests" / "samples" / "featureset.yaml").read_text())
SPEC = FeatureSetSpec.model_validate(SAMPLE["spec"])
CONTRACT = FeatureContract.from_spec(SPEC)


def _named(sample: str) -> str:
    """A sample object as the operator hands it to a build: ``metadata.name`` and ``spec`` only."""
    raw = yaml.safe_load((ROOT / "manifests" / "samples" / sample).read_text())
    return json.dumps({"metadata": {"name": raw["metadata"]["name"]}, "spec": raw["spec"]}, sort_keys=True)


TARGET = BuildTarget(
    instrument_json=_named("instrument.yaml"),
    venue_json=_named("venue.yaml"),
    contract_json=CONTRACT.to_json(),
    fingerprint=CONTRACT.fingerprint,
)


def inputs(**changes: Any) -> FeatureSetInputs:
    """The sample's inputs with every reference ready (``ready=False``: none is), then ``changes``."""
    refs = references(SPEC)
    ready = changes.pop("ready", True)
    base = FeatureSetInputs(
        namespace="default",
        name="gold-1m",
        uid="uid-1",
        spec=SPEC,
        contract=CONTRACT,
        refs=refs,
        observed={ref: Observed(exists=True, ready=ready) for ref in refs},
        status=None,
        generation=1,
        now=T0,
        target=TARGET if ready else None,
    )
    return replace(base, **changes)
