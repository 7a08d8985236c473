"""``tradeplane build-dataset``: one FeatureSet's dataset snapshot over a range, as a Job runs it.

Why everything comes in arguments: the dataset-builder Job must not need Kubernetes API access, so
the operator passes the FeatureSet spec, the Instrument and the Venue as JSON (whole objects or just
their ``spec``), and the feature contract with its fingerprint as it computed them for the FeatureSet's
status; the Job recomputes the contract from the spec and refuses a mismatch. Storage is
``DATABASE_URL`` (or the embedded PostgreSQL); files go to ``--output`` or
``$TRADEPLANE_HOME/datasets``; ``--mode`` defaults to the spec's ``snapshot.mode``.

Exit codes: 0 built (one JSON line: hash, rows, uri, ...), 2 the range is incomplete in production
mode (the gap list on stderr, nothing written or registered), 1 anything else (bad arguments, bad
source rows, an unreachable database). Messages never include the database URL or credentials.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.crds.instrument import InstrumentSpec
from tradeplane.crds.venue import VenueSpec

EXIT_INCOMPLETE = 2
ContractOf = Callable[[FeatureSetSpec], tuple[dict[str, Any], str]]
"""The feature contract of a spec as ``(contract JSON, "sha256:..." fingerprint)``."""


@dataclass(frozen=True)
class BuildRequest:
    """A parsed command line: what to build, from which instrument, into which directory."""

    namespace: str
    featureset: str
    spec: FeatureSetSpec
    instrument_name: str | None
    instrument: InstrumentSpec
    venue: VenueSpec
    start: datetime
    end: datetime
    mode: str
    output: Path


def _spec_of(raw: str, what: str) -> tuple[dict[str, Any], str | None]:
    """A whole object's ``spec`` and ``metadata.name``, or the document itself when it is a spec."""
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"{what} is not JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{what} must be a JSON object")
    if "spec" in document:
        name = (document.get("metadata") or {}).get("name")
        return document["spec"], name if isinstance(name, str) else None
    return document, None


def _time(value: str, flag: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{flag} is not an ISO 8601 time: {value!r}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{flag} needs a time zone (e.g. 2026-01-01T00:00:00Z)")
    return moment


def parse_request(
    *,
    featureset: str,
    spec_json: str,
    instrument_json: str,
    venue_json: str,
    start: str,
    end: str,
    mode: str | None,
    output: Path | None,
) -> BuildRequest:
    """Validate the arguments with the CRD models (the same rules the API server applied)."""
    from pydantic import ValidationError  # noqa: PLC0415

    from tradeplane.runtime.features.snapshot import MODES  # noqa: PLC0415
    from tradeplane.runtime.host.paths import state_dir  # noqa: PLC0415

    namespace, _, name = featureset.partition("/")
    if not namespace or not name:
        raise ValueError(f"--featureset must be NAMESPACE/NAME, got {featureset!r}")
    try:
        spec = FeatureSetSpec.model_validate(_spec_of(spec_json, "--spec-json")[0])
        instrument_raw, instrument_name = _spec_of(instrument_json, "--instrument-json")
        instrument = InstrumentSpec.model_validate(instrument_raw)
        venue_raw, venue_name = _spec_of(venue_json, "--venue-json")
        venue = VenueSpec.model_validate(venue_raw)
    except ValidationError as error:
        raise ValueError(f"invalid resource JSON: {error}") from None
    if instrument_name is not None and instrument_name not in {ref.name for ref in spec.instrument_refs}:
        raise ValueError(f"Instrument {instrument_name!r} is not one of the FeatureSet's instrumentRefs")
    if venue_name is not None and venue_name != instrument.venue_ref.name:
        raise ValueError(
            f"Venue {venue_name!r} is not the Instrument's venueRef {instrument.venue_ref.name!r}"
        )
    mode = mode or spec.snapshot.mode
    if mode not in MODES:
        raise ValueError(f"--mode must be one of {', '.join(MODES)}, got {mode!r}")
    begin, finish = _time(start, "--start"), _time(end, "--end")
    if not begin < finish:
        raise ValueError("--start must be before --end")
    return BuildRequest(
        namespace,
        name,
        spec,
        instrument_name,
        instrument,
        venue,
        begin,
        finish,
        mode,
        output if output is not None else state_dir() / "datasets",
    )


async def run_build(request: BuildRequest, *, contract_of: ContractOf, engine: Any = None) -> dict[str, Any]:
    """Load, build, register and prune; the result line. ``engine`` defaults to ``DATABASE_URL``'s."""
    from tradeplane.runtime.features.dataset_inputs import load_inputs, required_streams  # noqa: PLC0415
    from tradeplane.runtime.features.plan import FeaturePlan  # noqa: PLC0415
    from tradeplane.runtime.features.registry import Stream  # noqa: PLC0415
    from tradeplane.runtime.features.snapshot import SourceLabel, build_snapshot, code_version  # noqa: PLC0415
    from tradeplane.runtime.features.snapshot_store import (  # noqa: PLC0415
        prune_snapshots,
        register_snapshot,
    )
    from tradeplane.runtime.marketdata.tables import MarketKey  # noqa: PLC0415
    from tradeplane.runtime.store.engine import create_engine  # noqa: PLC0415

    plan = FeaturePlan.from_featureset(request.spec)
    contract_json, fingerprint = contract_of(request.spec)
    streams = required_streams(plan)
    venue_name = request.instrument.venue_ref.name
    key = MarketKey.of(request.namespace, venue_name, request.instrument.symbol)
    owned = engine is None
    engine = create_engine() if owned else engine
    try:
        snapshot_ids, schedule = await _contract_snapshot(engine, request.namespace, venue_name, key.symbol)
        loaded = await load_inputs(
            engine,
            key,
            base_interval=request.spec.base_interval,
            context_intervals=plan.context_intervals,
            start=request.start,
            end=request.end,
            need_funding=Stream.FUNDING in streams,
            need_mark=Stream.MARK in streams,
            warmup_bars=plan.warmup,
            funding_schedule=schedule,
            need_schedule=Stream.FUNDING_SCHEDULE in streams,
        )
        snapshot = build_snapshot(
            plan,
            loaded,
            contract_json=contract_json,
            fingerprint=fingerprint,
            mode=request.mode,  # type: ignore[arg-type]  # checked against MODES in parse_request
            source=SourceLabel.of(f"{request.namespace}/{venue_name}", request.venue.endpoints.rest),
            code_version=code_version(),
            metadata_snapshot_ids=snapshot_ids,
            directory=request.output,
        )
        registered, created = await register_snapshot(
            engine, snapshot, namespace=request.namespace, featureset=request.featureset
        )
        pruned = await prune_snapshots(
            engine, request.namespace, request.featureset, keep=request.spec.snapshot_retention
        )
    finally:
        if owned:
            await engine.dispose()
    return {
        "hash": registered.hash,
        "rows": registered.rows,
        "uri": registered.uri,
        "gapFree": registered.gap_free,
        "simulated": registered.simulated,
        "mode": registered.mode,
        "created": created,
        "pruned": pruned,
    }


async def _contract_snapshot(
    engine: Any, namespace: str, venue: str, symbol: str
) -> tuple[dict[str, int | str], Any]:
    """The current contract snapshot's id and fingerprint, and the funding calendar it states."""
    from tradeplane.runtime.features.inputs import FundingSchedule  # noqa: PLC0415
    from tradeplane.runtime.venue.snapshot_record import SnapshotKey  # noqa: PLC0415
    from tradeplane.runtime.venue.snapshots import current  # noqa: PLC0415

    snapshot = await current(engine, SnapshotKey(namespace, venue, "contract", symbol))
    if snapshot is None:
        return {}, None
    ids: dict[str, int | str] = {"contract": snapshot.id, "contractVersion": snapshot.version}
    if snapshot.fingerprint is not None:
        ids["contractFingerprint"] = snapshot.fingerprint
    seconds = (snapshot.normalised or {}).get("fundingIntervalSeconds") if snapshot.valid else None
    schedule = (
        FundingSchedule(period_ms=int(seconds) * 1000) if isinstance(seconds, int) and seconds > 0 else None
    )
    return ids, schedule


class ContractMismatch(ValueError):
    """The operator's contract and the one this build computes from the spec differ (a version skew
    between the operator and the Job would silently build columns the model does not expect)."""


def contract_from_arguments(contract_json: str | None, fingerprint: str | None) -> ContractOf:
    """The FeatureSet's contract as this build computes it, checked against the operator's when given.

    The operator passes the contract it wrote to the FeatureSet's status; the Job recomputes it with
    :meth:`FeatureContract.from_spec` and refuses to build when the two disagree.
    """
    from tradeplane.runtime.features.contract import FeatureContract  # noqa: PLC0415

    if (contract_json is None) != (fingerprint is None):
        raise ValueError("give both --contract-json and --fingerprint, or neither")

    def resolve(spec: FeatureSetSpec) -> tuple[dict[str, Any], str]:
        computed = FeatureContract.from_spec(spec)
        if contract_json is not None:
            passed = FeatureContract.from_json(contract_json)
            if passed.fingerprint != fingerprint:
                raise ContractMismatch(f"--contract-json hashes to {passed.fingerprint}, not {fingerprint}")
            if computed.fingerprint != fingerprint:
                raise ContractMismatch(
                    f"the spec's contract is {computed.fingerprint} here but {fingerprint} for the operator"
                )
        document: dict[str, Any] = json.loads(computed.to_json())
        return document, computed.fingerprint

    return resolve


def build_dataset(
    *,
    featureset: Annotated[
        str | None, typer.Option(help="NAMESPACE/NAME of the FeatureSet. Required.")
    ] = None,
    spec_json: Annotated[
        str | None, typer.Option(help="The FeatureSet's spec (or whole object) as JSON. Required.")
    ] = None,
    instrument_json: Annotated[
        str | None, typer.Option(help="The Instrument (object or spec) as JSON. Required.")
    ] = None,
    venue_json: Annotated[
        str | None, typer.Option(help="The Instrument's Venue (object or spec) as JSON. Required.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First bar open time, ISO 8601 with a zone (inclusive). Required.")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="End of the range, ISO 8601 with a zone (exclusive). Required.")
    ] = None,
    contract_json: Annotated[
        str | None, typer.Option(help="The operator's feature contract JSON (checked, not trusted).")
    ] = None,
    fingerprint: Annotated[str | None, typer.Option(help="Its fingerprint, sha256:<hex>.")] = None,
    mode: Annotated[
        str | None, typer.Option(help="production (fails closed on gaps) or research; default: the spec's.")
    ] = None,
    output: Annotated[Path | None, typer.Option(help="Directory for snapshots.")] = None,
) -> None:
    """Build a FeatureSet's dataset snapshot (Parquet + manifest) from stored market data."""
    from tradeplane.runtime.features.inputs import SourceQuarantine  # noqa: PLC0415
    from tradeplane.runtime.features.snapshot import DatasetIncomplete  # noqa: PLC0415

    try:
        required = {
            "--featureset": featureset,
            "--spec-json": spec_json,
            "--instrument-json": instrument_json,
            "--venue-json": venue_json,
            "--start": start,
            "--end": end,
        }
        absent = [flag for flag, value in required.items() if not value]
        if absent:  # checked here, not by click, whose usage errors exit 2 (reserved for incomplete)
            raise ValueError(f"missing {', '.join(absent)}")
        assert featureset and spec_json and instrument_json and venue_json and start and end
        request = parse_request(
            featureset=featureset,
            spec_json=spec_json,
            instrument_json=instrument_json,
            venue_json=venue_json,
            start=start,
            end=end,
            mode=mode,
            output=output,
        )
        contract_of = contract_from_arguments(contract_json, fingerprint)
        result = asyncio.run(run_build(request, contract_of=contract_of))
    except DatasetIncomplete as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(EXIT_INCOMPLETE) from None
    except (ValueError, SourceQuarantine, OSError) as error:
        typer.echo(f"build-dataset failed: {error}", err=True)
        raise typer.Exit(1) from None
    except Exception as error:  # the exit code is the Job's contract; no traceback
        typer.echo(f"build-dataset failed: {type(error).__name__}", err=True)
        raise typer.Exit(1) from None
    sys.stdout.write(json.dumps(result, sort_keys=True) + "\n")
