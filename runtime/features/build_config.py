"""What one dataset build reads and writes: the dataset-builder workload's configuration.

:class:`DatasetBuildConfig` is the one place the builder's defaults live. The operator derives it
(``reconcilers.dataset_build.dataset_build_config``) from the FeatureSet, the build it planned and the
Instrument and Venue it resolved, and passes it as ``tradeplane build-dataset --config '<JSON>'``.
Everything the Job needs is in it, so the Job needs no Kubernetes API access: the FeatureSet spec,
the Instrument and the Venue (``metadata.name`` and ``spec`` only), and the feature contract with its
fingerprint as the operator computed them for status, which the Job recomputes and checks.

Light on purpose (pydantic and ``crds`` only): reconcilers import it without numpy or SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import ValidationInfo, field_serializer, field_validator, model_validator

from tradeplane.crds.common import CamelModel
from tradeplane.crds.featureset import FeatureSetSpec, SnapshotMode
from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.venue import VenueSpec
from tradeplane.runtime.workloads.config import WorkloadConfig

SpecT = TypeVar("SpecT", bound=CamelModel)
"""``spec.snapshot.mode``: production fails closed on a gap, research records it."""


class NamedSpec(WorkloadConfig, Generic[SpecT]):
    """An object as the build needs it: its name (checked against the references) and its spec,
    written as the API server stores it."""

    name: str | None = None
    """``metadata.name``; None when only a spec was given (a manual run), so nothing is checked."""
    spec: SpecT

    @field_serializer("spec")
    def _as_stored(self, spec: SpecT) -> dict[str, Any]:
        return spec.to_k8s()


def named_spec_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """A whole object (``metadata.name`` and ``spec``) as a :class:`NamedSpec` document, or the
    document itself as the spec when it has none (then no name is checked)."""
    if "spec" not in document:
        return {"spec": dict(document)}
    name = (document.get("metadata") or {}).get("name")
    return {"name": name if isinstance(name, str) else None, "spec": document["spec"]}


class DatasetBuildConfig(WorkloadConfig):
    """One FeatureSet's dataset snapshot over ``[start, end)``."""

    featureset: str
    """``NAMESPACE/NAME`` of the FeatureSet; the snapshot is registered under it."""
    spec: FeatureSetSpec
    instrument: NamedSpec[InstrumentSpec]
    """The Instrument whose stored market data is read (one of ``spec.instrumentRefs``)."""
    venue: NamedSpec[VenueSpec]
    """The Instrument's Venue (its REST endpoint is the snapshot's source label)."""
    start: datetime
    """First bar open time (inclusive)."""
    end: datetime
    """End of the range (exclusive)."""
    contract: dict[str, Any] | None = None
    """The operator's feature contract document (checked against the spec's, not trusted)."""
    fingerprint: str | None = None
    """Its fingerprint, ``sha256:<hex>``; given together with ``contract`` or not at all."""
    mode: SnapshotMode | None = None
    """None: the spec's ``snapshot.mode`` (see :attr:`build_mode`)."""
    output: str | None = None
    """Directory for the snapshot files; None: ``$TRADEPLANE_HOME/datasets`` of the process."""

    @field_serializer("spec")
    def _spec_as_stored(self, spec: FeatureSetSpec) -> dict[str, Any]:
        return spec.to_k8s()

    @field_validator("featureset")
    @classmethod
    def _qualified(cls, value: str) -> str:
        namespace, _, name = value.partition("/")
        if not namespace or not name:
            raise ValueError(f"featureset must be NAMESPACE/NAME, got {value!r}")
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime, info: ValidationInfo) -> datetime:
        if value.tzinfo is None:
            raise ValueError(f"{info.field_name} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> DatasetBuildConfig:
        if not self.start < self.end:
            raise ValueError("start must be before end")
        if (self.contract is None) != (self.fingerprint is None):
            raise ValueError("give both contract and fingerprint, or neither")
        instrument = self.instrument
        if instrument.name is not None and instrument.name not in {r.name for r in self.spec.instrument_refs}:
            raise ValueError(f"Instrument {instrument.name!r} is not one of the FeatureSet's instrumentRefs")
        expected_venue = instrument.spec.venue_ref.name
        if self.venue.name is not None and self.venue.name != expected_venue:
            raise ValueError(f"Venue {self.venue.name!r} is not the Instrument's venueRef {expected_venue!r}")
        return self

    @property
    def namespace(self) -> str:
        return self.featureset.partition("/")[0]

    @property
    def featureset_name(self) -> str:
        return self.featureset.partition("/")[2]

    @property
    def build_mode(self) -> SnapshotMode:
        return self.mode if self.mode is not None else self.spec.snapshot.mode
