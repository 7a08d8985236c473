"""``tradeplane build-dataset``: one FeatureSet's dataset snapshot over a range, as a Job runs it.

Its configuration is one :class:`DatasetBuildConfig`, passed as ``--config`` (canonical JSON, or
``@path`` to a file): the operator writes the FeatureSet spec, the Instrument and the Venue, the span
and mode it planned, and the feature contract with its fingerprint as it computed them for the
FeatureSet's status, so the Job needs no Kubernetes API access; it recomputes the contract from the
spec and refuses a mismatch. For a manual run the same fields may be given as flags
(``--featureset``, ``--spec-json``, ``--instrument-json``, ``--venue-json`` as whole objects or
specs, ``--start``, ``--end``, ``--contract-json``, ``--fingerprint``, ``--mode``, ``--output``);
given with ``--config`` they override its fields, and none has a default of its own. Storage is
``DATABASE_URL`` (or the embedded PostgreSQL).

Exit codes: 0 built (one JSON line: hash, rows, uri, ...), 2 the range is incomplete in production
mode (the gap list on stderr, nothing written or registered), 1 anything else (a refused
configuration, naming the field; bad source rows; an unreachable database). Exit 2 is a verdict
about the data the operator retries later, so a bad configuration is not reported with it.
Messages never include the database URL or credentials.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.runtime.features.build_config import DatasetBuildConfig, named_spec_document

EXIT_INCOMPLETE = 2
ContractOf = Callable[[FeatureSetSpec], tuple[dict[str, Any], str]]
"""The feature contract of a spec as ``(contract JSON, "sha256:..." fingerprint)``."""
REQUIRED_FLAGS = ("--featureset", "--spec-json", "--instrument-json", "--venue-json", "--start", "--end")
"""Without ``--config``, the flags that make a configuration."""


def _document(raw: str, flag: str) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ValueError(f"{flag} is not JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{flag} must be a JSON object")
    return document


def _named(raw: str, flag: str) -> dict[str, Any]:
    """A flag's whole object (or bare spec) as the configuration's named spec."""
    return named_spec_document(_document(raw, flag))


def flag_overrides(flags: dict[str, str | None]) -> dict[str, Any]:
    """The given flags (keyed ``--flag``) as configuration fields, JSON flags parsed."""
    parse: dict[str, tuple[str, Callable[[str, str], Any]]] = {
        "--featureset": ("featureset", lambda value, _: value),
        "--spec-json": ("spec", lambda value, flag: _named(value, flag)["spec"]),
        "--instrument-json": ("instrument", _named),
        "--venue-json": ("venue", _named),
        "--start": ("start", lambda value, _: value),
        "--end": ("end", lambda value, _: value),
        "--contract-json": ("contract", _document),
        "--fingerprint": ("fingerprint", lambda value, _: value),
        "--mode": ("mode", lambda value, _: value),
        "--output": ("output", lambda value, _: value),
    }
    overrides: dict[str, Any] = {}
    for flag, value in flags.items():
        if value is not None:
            field, convert = parse[flag]
            overrides[field] = convert(value, flag)
    return overrides


def read_config(config: str | None, flags: dict[str, str | None]) -> DatasetBuildConfig:
    """``--config`` with the given flags on top, or the flags alone (then the required ones must be
    there); validated once by the model, which names every refused field."""
    if config is None:
        absent = [flag for flag in REQUIRED_FLAGS if not flags.get(flag)]
        if absent:  # checked here, not by click, whose usage errors exit 2 (reserved for incomplete)
            raise ValueError(f"missing {', '.join(absent)} (or give --config)")
        return DatasetBuildConfig.build({}, flag_overrides(flags))
    return DatasetBuildConfig.from_argument(config, flag_overrides(flags))


async def run_build(
    config: DatasetBuildConfig, *, contract_of: ContractOf, engine: Any = None
) -> dict[str, Any]:
    """Load, build, register and prune; the result line. ``engine`` defaults to ``DATABASE_URL``'s."""
    from tradeplane.runtime.features.dataset_inputs import load_inputs, required_streams  # noqa: PLC0415
    from tradeplane.runtime.features.plan import FeaturePlan  # noqa: PLC0415
    from tradeplane.runtime.features.registry import Stream  # noqa: PLC0415
    from tradeplane.runtime.features.snapshot import SourceLabel, build_snapshot, code_version  # noqa: PLC0415
    from tradeplane.runtime.features.snapshot_store import (  # noqa: PLC0415
        prune_snapshots,
        register_snapshot,
    )
    from tradeplane.runtime.host.paths import state_dir  # noqa: PLC0415
    from tradeplane.runtime.marketdata.tables import MarketKey  # noqa: PLC0415
    from tradeplane.runtime.store.engine import create_engine  # noqa: PLC0415

    plan = FeaturePlan.from_featureset(config.spec)
    contract_json, fingerprint = contract_of(config.spec)
    streams = required_streams(plan)
    namespace, instrument = config.namespace, config.instrument.spec
    venue_name = instrument.venue_ref.name
    key = MarketKey.of(namespace, venue_name, instrument.symbol)
    directory = Path(config.output) if config.output is not None else state_dir() / "datasets"
    owned = engine is None
    engine = create_engine() if owned else engine
    try:
        snapshot_ids, schedule = await _contract_snapshot(engine, namespace, venue_name, key.symbol)
        loaded = await load_inputs(
            engine,
            key,
            base_interval=config.spec.base_interval,
            context_intervals=plan.context_intervals,
            start=config.start,
            end=config.end,
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
            mode=config.build_mode,
            source=SourceLabel.of(f"{namespace}/{venue_name}", config.venue.spec.endpoints.rest),
            code_version=code_version(),
            metadata_snapshot_ids=snapshot_ids,
            directory=directory,
        )
        featureset = config.featureset_name
        registered, created = await register_snapshot(
            engine, snapshot, namespace=namespace, featureset=featureset
        )
        pruned = await prune_snapshots(engine, namespace, featureset, keep=config.spec.snapshot_retention)
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


def checked_contract(config: DatasetBuildConfig) -> ContractOf:
    """The FeatureSet's contract as this build computes it, checked against the operator's when given.

    The operator passes the contract it wrote to the FeatureSet's status; the Job recomputes it with
    :meth:`FeatureContract.from_spec` and refuses to build when the two disagree.
    """
    from tradeplane.runtime.features.contract import FeatureContract  # noqa: PLC0415

    given, fingerprint = config.contract, config.fingerprint

    def resolve(spec: FeatureSetSpec) -> tuple[dict[str, Any], str]:
        computed = FeatureContract.from_spec(spec)
        if given is not None:
            passed = FeatureContract.from_json(json.dumps(given))
            if passed.fingerprint != fingerprint:
                raise ContractMismatch(
                    f"contract/--contract-json hashes to {passed.fingerprint}, not {fingerprint}"
                )
            if computed.fingerprint != fingerprint:
                raise ContractMismatch(
                    f"the spec's contract is {computed.fingerprint} here but {fingerprint} for the operator"
                )
        document: dict[str, Any] = json.loads(computed.to_json())
        return document, computed.fingerprint

    return resolve


def build_dataset(
    *,
    config: Annotated[
        str | None,
        typer.Option(help="The DatasetBuildConfig as JSON, or @PATH to a file (what the operator passes)."),
    ] = None,
    featureset: Annotated[str | None, typer.Option(help="NAMESPACE/NAME of the FeatureSet.")] = None,
    spec_json: Annotated[
        str | None, typer.Option(help="The FeatureSet's spec (or whole object) as JSON.")
    ] = None,
    instrument_json: Annotated[
        str | None, typer.Option(help="The Instrument (object or spec) as JSON.")
    ] = None,
    venue_json: Annotated[
        str | None, typer.Option(help="The Instrument's Venue (object or spec) as JSON.")
    ] = None,
    start: Annotated[
        str | None, typer.Option(help="First bar open time, ISO 8601 with a zone (inclusive).")
    ] = None,
    end: Annotated[
        str | None, typer.Option(help="End of the range, ISO 8601 with a zone (exclusive).")
    ] = None,
    contract_json: Annotated[
        str | None, typer.Option(help="The operator's feature contract JSON (checked, not trusted).")
    ] = None,
    fingerprint: Annotated[str | None, typer.Option(help="Its fingerprint, sha256:<hex>.")] = None,
    mode: Annotated[
        str | None, typer.Option(help="production (fails closed on gaps) or research; unset: the spec's.")
    ] = None,
    output: Annotated[
        str | None, typer.Option(help="Directory for snapshots; unset: $TRADEPLANE_HOME/datasets.")
    ] = None,
) -> None:
    """Build a FeatureSet's dataset snapshot (Parquet + manifest) from stored market data.

    Without --config, --featureset, --spec-json, --instrument-json, --venue-json, --start and --end
    are required; with it, any flag given overrides the configuration's field.
    """
    from tradeplane.runtime.features.inputs import SourceQuarantine  # noqa: PLC0415
    from tradeplane.runtime.features.snapshot import DatasetIncomplete  # noqa: PLC0415

    flags = {
        "--featureset": featureset,
        "--spec-json": spec_json,
        "--instrument-json": instrument_json,
        "--venue-json": venue_json,
        "--start": start,
        "--end": end,
        "--contract-json": contract_json,
        "--fingerprint": fingerprint,
        "--mode": mode,
        "--output": output,
    }
    try:
        configured = read_config(config, flags)
        result = asyncio.run(run_build(configured, contract_of=checked_contract(configured)))
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
