"""Dataset snapshots: a FeatureSet's matrix over a range, as deterministic Parquet named by its hash.

Why deterministic bytes: the snapshot hash is how a trained model names the data it learned from, so
the same stored inputs and the same contract must give the same file, bit for bit, on any machine
and at any time. Everything that could vary is fixed here: the schema and its types, column order
(the contract's), compression (zstd level 3), row-group size, Parquet format and page versions, no
dictionary encoding, and nothing from the clock or the host in the file's metadata. The schema
metadata carries the contract fingerprint, so a file cannot be read against another contract
without noticing.

The file layout (the contract the trainer reads):

- ``open_time``, ``close_time``: ``timestamp[ms, tz=UTC]`` (the bar's open, and its last
  millisecond as BingX stamps it); typed timestamps rather than int64 so every reader (pandas,
  polars, DuckDB) sees instants, not numbers.
- then one ``float64`` column per feature, in contract order; NaN (not null) where a value is not
  defined, exactly what :meth:`FeaturePlan.batch` returned.

Rows are the base bars with ``open_time`` in the requested ``[start, end)``; the warm-up bars read
before ``start`` feed the features and are dropped.

Production mode fails closed: a missing bar, an unresolved gap event or absent required data
raises :class:`DatasetIncomplete` before anything is written. Research mode writes and says
``gapFree: false`` in the manifest.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from tradeplane.crds.featureset import SnapshotMode
from tradeplane.runtime.features.dataset_inputs import LoadedInputs, gap_json, iso
from tradeplane.runtime.features.plan import FeaturePlan
from tradeplane.runtime.host.statefile import write_atomic
from tradeplane.runtime.millis import to_ms
from tradeplane.runtime.venue import canonical as venue_canonical

MODES: tuple[SnapshotMode, ...] = ("production", "research")
PRODUCTION_REST = "https://open-api.bingx.com"
MANIFEST_SCHEMA = "tradeplane.io/dataset-manifest/v1"
TIME_COLUMNS = ("open_time", "close_time")
TIME_TYPE = pa.timestamp("ms", tz="UTC")
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 3
ROW_GROUP_SIZE = 65_536
FINGERPRINT_KEY = b"tradeplane.contract_fingerprint"
COLUMNS_KEY = b"tradeplane.columns"


class DatasetIncomplete(Exception):
    """The range is not complete and the build is in production mode; nothing was written."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"dataset incomplete ({len(problems)} problem(s)):\n{lines}")


@dataclass(frozen=True)
class SourceLabel:
    """Which venue the data came from, and whether it is the real exchange or a simulator.

    ``simulated`` is derived from the endpoint, not the Venue's mode: a paper Venue on BingX's own
    endpoint sees the real market, one pointed at the simulator does not.
    """

    venue: str
    rest_endpoint: str
    simulated: bool

    @classmethod
    def of(cls, venue: str, rest_endpoint: str) -> SourceLabel:
        return cls(venue, rest_endpoint, simulated=not is_production_endpoint(rest_endpoint))

    def to_json(self) -> dict[str, Any]:
        return {"venue": self.venue, "restEndpoint": self.rest_endpoint, "simulated": self.simulated}


def is_production_endpoint(url: str) -> bool:
    """True only for ``https://open-api.bingx.com`` (any case, an optional trailing slash or :443)."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower()
    return (
        parts.scheme.lower() == "https"
        and host == urlsplit(PRODUCTION_REST).hostname
        and parts.port in (None, 443)
        and parts.path in ("", "/")
    )


@dataclass(frozen=True)
class Snapshot:
    """A written snapshot: its hash, where it is, and its manifest (as written)."""

    hash: str
    path: Path
    manifest_path: Path
    manifest: dict[str, Any]
    rows: int
    start: datetime
    end: datetime
    gap_free: bool
    simulated: bool
    fingerprint: str
    mode: SnapshotMode

    @property
    def uri(self) -> str:
        return self.path.resolve().as_uri()


def canonical_json(value: Any) -> bytes:
    """The manifest's bytes depend only on its content (the venue records' canonical form)."""
    return venue_canonical.canonical_json(value).encode()


def code_version(version: str | None = None, root: Path | None = None) -> str:
    """``<package version>`` or ``<package version>+g<commit>`` when the source is a git checkout.

    Read from ``.git`` files directly (no subprocess, no network); an installed wheel or a
    container image without ``.git`` reports the package version only. A dirty tree is not
    detected: the commit names what was checked out, not local edits.
    """
    from tradeplane import __version__  # noqa: PLC0415 - the installed distribution's version
    from tradeplane.runtime.host.paths import project_root  # noqa: PLC0415

    version = version or __version__
    commit = _git_commit((root or project_root()) / ".git")
    return f"{version}+g{commit[:12]}" if commit else version


def _git_commit(git: Path) -> str | None:
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head if _is_sha(head) else None
        ref = head.removeprefix("ref: ")
        loose = git / ref
        if loose.is_file():
            value = loose.read_text().strip()
            return value if _is_sha(value) else None
        for line in (git / "packed-refs").read_text().splitlines():
            sha, _, name = line.partition(" ")
            if name == ref and _is_sha(sha):
                return sha
    except OSError:
        return None
    return None


def _is_sha(value: str) -> bool:
    return len(value) == 40 and all(c in "0123456789abcdef" for c in value)


def parquet_bytes(
    open_ms: np.ndarray[Any, Any],
    close_ms: np.ndarray[Any, Any],
    matrix: np.ndarray[Any, Any],
    columns: tuple[str, ...],
    fingerprint: str,
) -> bytes:
    """The snapshot file's bytes (see the module docstring for what is fixed and why)."""
    clash = sorted(set(columns) & set(TIME_COLUMNS))
    if clash:
        raise ValueError(f"feature names {clash} collide with the snapshot's time columns")
    fields = [pa.field(name, TIME_TYPE, nullable=False) for name in TIME_COLUMNS]
    fields += [pa.field(name, pa.float64(), nullable=False) for name in columns]
    metadata = {FINGERPRINT_KEY: fingerprint.encode(), COLUMNS_KEY: canonical_json(list(columns))}
    schema = pa.schema(fields, metadata=metadata)
    arrays = [
        pa.array(np.asarray(open_ms, dtype=np.int64), type=pa.int64()).cast(TIME_TYPE),
        pa.array(np.asarray(close_ms, dtype=np.int64), type=pa.int64()).cast(TIME_TYPE),
        *(
            pa.array(np.ascontiguousarray(matrix[:, index]), type=pa.float64())
            for index in range(len(columns))
        ),
    ]
    table = pa.Table.from_arrays(arrays, schema=schema)
    sink = io.BytesIO()
    pq.write_table(
        table,
        sink,
        row_group_size=ROW_GROUP_SIZE,
        compression=COMPRESSION,
        compression_level=COMPRESSION_LEVEL,
        use_dictionary=False,
        write_statistics=True,
        version="2.6",
        data_page_version="1.0",
        store_schema=True,
    )
    return sink.getvalue()


def build_snapshot(
    plan: FeaturePlan,
    loaded: LoadedInputs,
    *,
    contract_json: dict[str, Any],
    fingerprint: str,
    mode: SnapshotMode,
    source: SourceLabel,
    code_version: str,
    metadata_snapshot_ids: dict[str, int | str],
    directory: Path,
) -> Snapshot:
    """Compute, check, and write ``<hex>.parquet`` and ``<hex>.manifest.json`` into ``directory``.

    Raises :class:`DatasetIncomplete` in production mode when the inputs are not complete (nothing
    is written), and :class:`SourceQuarantine` from the plan if a bad row slipped past the loader.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if not fingerprint.startswith("sha256:"):
        raise ValueError(f"fingerprint must be 'sha256:<hex>', got {fingerprint!r}")
    if mode == "production" and not loaded.gap_free:
        raise DatasetIncomplete(loaded.problems())
    matrix = plan.batch(loaded.inputs)
    bars = loaded.inputs.bars
    keep = bars.open_time_ms >= to_ms(loaded.start)
    data = parquet_bytes(
        bars.open_time_ms[keep], bars.close_time_ms[keep], matrix[keep], plan.columns, fingerprint
    )
    hex_digest = hashlib.sha256(data).hexdigest()
    digest = f"sha256:{hex_digest}"
    rows = int(keep.sum())
    manifest = _manifest(
        loaded,
        digest=digest,
        size=len(data),
        rows=rows,
        columns=plan.columns,
        contract_json=contract_json,
        fingerprint=fingerprint,
        mode=mode,
        source=source,
        code_version=code_version,
        metadata_snapshot_ids=metadata_snapshot_ids,
    )
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{hex_digest}.parquet"
    manifest_path = directory / f"{hex_digest}.manifest.json"
    write_atomic(path, data)
    write_atomic(manifest_path, canonical_json(manifest) + b"\n")
    return Snapshot(
        hash=digest,
        path=path,
        manifest_path=manifest_path,
        manifest=manifest,
        rows=rows,
        start=loaded.start,
        end=loaded.end,
        gap_free=loaded.gap_free,
        simulated=source.simulated,
        fingerprint=fingerprint,
        mode=mode,
    )


def _manifest(
    loaded: LoadedInputs,
    *,
    digest: str,
    size: int,
    rows: int,
    columns: tuple[str, ...],
    contract_json: dict[str, Any],
    fingerprint: str,
    mode: SnapshotMode,
    source: SourceLabel,
    code_version: str,
    metadata_snapshot_ids: dict[str, int | str],
) -> dict[str, Any]:
    """No build time and no host: the manifest of the same snapshot is the same bytes too."""
    return {
        "schema": MANIFEST_SCHEMA,
        "snapshot": {"hash": digest, "file": f"{digest.removeprefix('sha256:')}.parquet", "bytes": size},
        "contract": {"fingerprint": fingerprint, "json": contract_json},
        "layout": {
            "timeColumns": {name: "timestamp[ms, UTC]" for name in TIME_COLUMNS},
            "featureColumns": list(columns),
            "featureType": "float64",
            "parquet": {
                "compression": COMPRESSION,
                "compressionLevel": COMPRESSION_LEVEL,
                "rowGroupSize": ROW_GROUP_SIZE,
                "pyarrow": pa.__version__,
            },
        },
        "instrument": {"market": loaded.key.market, "symbol": loaded.key.symbol},
        "range": {
            "start": iso(loaded.start),
            "end": iso(loaded.end),
            "warmupStart": iso(loaded.warmup_start),
            "warmupBars": loaded.warmup_bars,
            "baseInterval": loaded.base_interval,
            "contextIntervals": list(loaded.context_intervals),
        },
        "rows": rows,
        "sources": [stream.to_json() for stream in loaded.streams],
        "gaps": {
            "gapFree": loaded.gap_free,
            "missing": [run.to_json() for run in loaded.missing],
            "events": [gap_json(gap) for gap in loaded.gap_events],
            "missingData": list(loaded.missing_data),
        },
        "metadataSnapshots": dict(sorted(metadata_snapshot_ids.items())),
        "code": {"version": code_version},
        "mode": mode,
        "source": source.to_json(),
    }
