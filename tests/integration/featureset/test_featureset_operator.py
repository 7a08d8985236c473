"""The feature plane end to end: the operator process, the real apiserver and PostgreSQL, the venue
simulator, and the dataset-builder Job run by the local workload driver.

Apply Venue + Instrument + the sample FeatureSet -> once the Instrument ingests, the contract's
fingerprint is in status and a build request (the annotation) materialises a Parquet snapshot from the
ingested simulator bars; a parameter out of range stalls the FeatureSet with the registry's message;
an unknown transform never reaches the operator (the API server rejects it naming the field).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import yaml
from harness.cluster import ClusterHandle
from harness.crds import create, create_all, get_object, resource
from harness.operator import TRADEPLANE, Operator, wait_for
from harness.venue import SimulatorProcess
from integration.crd_examples import example

from tradeplane.crds.annotations import DATASET_REQUESTED_AT
from tradeplane.crds.common import format_time
from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.runtime.features.contract import FeatureContract

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
HISTORY = timedelta(hours=5)
"""Backfilled before the test: the 1h snapshot plus the sample's warm-up (201 one-minute bars)."""


def sample_featureset(**snapshot: Any) -> dict[str, Any]:
    obj: dict[str, Any] = yaml.safe_load((ROOT / "manifests" / "samples" / "featureset.yaml").read_text())
    obj["spec"]["snapshot"] = {**obj["spec"]["snapshot"], **snapshot}
    return obj


def wait_jsonpath(
    cluster: ClusterHandle, namespace: str, kind: str, name: str, path: str, value: str
) -> None:
    """``kubectl wait`` on any status field (builds outlast wait_for's 60 s)."""
    cluster.kubectl(
        "wait", "-n", namespace, f"{resource(kind)}/{name}", f"--for=jsonpath={{{path}}}={value}",
        "--timeout=240s", timeout=270,
    )  # fmt: skip


def condition(obj: dict[str, Any], condition_type: str) -> dict[str, Any]:
    return next(c for c in obj["status"]["conditions"] if c["type"] == condition_type)


@pytest.fixture
def ingesting(
    operator: Operator,
    crds_installed: ClusterHandle,
    namespace: str,
    tmp_path: Path,
    venue_sim: SimulatorProcess,
) -> Iterator[SimulatorProcess]:
    crds_installed.kubectl(
        "create", "secret", "generic", "bingx-api", "-n", namespace,
        f"--from-literal=apiKey={venue_sim.api_key}", f"--from-literal=secretKey={venue_sim.api_secret}",
    )  # fmt: skip
    venue = example("Venue")
    venue["spec"]["endpoints"] = {"rest": venue_sim.rest_url, "websocket": venue_sim.ws_url}
    instrument = example("Instrument")
    instrument["spec"]["backfillFrom"] = format_time(datetime.now(UTC) - HISTORY)
    instrument["spec"]["streams"]["depth"] = {"enabled": False}
    create_all(crds_installed, namespace, tmp_path, [venue, instrument])
    wait_for(crds_installed, namespace, "Instrument", "xaut-usdt", "Ready", "Ingesting")
    yield venue_sim


def test_a_requested_build_materialises_a_snapshot_of_the_contract(
    ingesting: SimulatorProcess, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    featureset = sample_featureset(range="1h", schedule=None, mode="research")
    create_all(crds_installed, namespace, tmp_path, [featureset])
    expected = FeatureContract.from_spec(FeatureSetSpec.model_validate(featureset["spec"])).fingerprint
    wait_jsonpath(crds_installed, namespace, "FeatureSet", "gold-1m", ".status.fingerprint", expected)

    # `tradeplane build-dataset-now` writes the request annotation (kubectl annotate does the same)
    command = [TRADEPLANE, "build-dataset-now", "gold-1m", "-n", namespace]
    config = ["--kubeconfig", str(crds_installed.kubeconfig)]
    asked = subprocess.run([*command, *config], capture_output=True, text=True, timeout=60, check=False)
    assert asked.returncode == 0 and "dataset build requested" in asked.stdout, asked.stderr
    annotations = get_object(crds_installed, namespace, "FeatureSet", "gold-1m")["metadata"]["annotations"]
    stamp = annotations[DATASET_REQUESTED_AT]
    wait_jsonpath(crds_installed, namespace, "FeatureSet", "gold-1m", ".status.build.request", stamp)
    wait_jsonpath(crds_installed, namespace, "FeatureSet", "gold-1m", ".status.build.phase", "Succeeded")
    wait_for(crds_installed, namespace, "FeatureSet", "gold-1m", "Ready", "SnapshotReady")

    obj = get_object(crds_installed, namespace, "FeatureSet", "gold-1m")
    status = obj["status"]
    assert status["fingerprint"] == expected
    assert status["columns"] == len(featureset["spec"]["features"]) and status["warmupBars"] > 0
    assert condition(obj, "ContractReady")["reason"] == "ContractValid"
    assert (condition(obj, "Stalled")["status"], condition(obj, "Reconciling")["status"]) == (
        "False",
        "False",
    )
    latest = status["latestSnapshot"]
    assert latest["rows"] > 0 and latest["hash"].startswith("sha256:")
    parquet = Path(unquote(urlsplit(latest["uri"]).path))
    assert parquet.is_file() and parquet.suffix == ".parquet"
    assert status["build"]["trigger"] == "Requested" and status["build"]["mode"] == "research"
    assert status["snapshots"] >= 1 and status["audit"]["seq"] >= 2  # contract + snapshot

    wide = crds_installed.kubectl("get", resource("FeatureSet"), "-n", namespace, "-o", "wide").stdout
    header, row = wide.splitlines()[:2]
    assert all(column in header for column in ("FINGERPRINT", "SNAPSHOT", "ROWS"))
    assert expected in row and latest["hash"] in row and f" {latest['rows']} " in f" {row} "


def finished(cluster: ClusterHandle, namespace: str, name: str) -> dict[str, Any]:
    cluster.kubectl(
        "wait", "-n", namespace, f"{resource('FeatureSet')}/{name}",
        "--for=jsonpath={.status.build.finishedTime}", "--timeout=240s", timeout=270,
    )  # fmt: skip
    return get_object(cluster, namespace, "FeatureSet", name)


def test_production_mode_builds_by_itself_and_fails_closed_naming_the_gaps(
    ingesting: SimulatorProcess, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    """No request needed for the first snapshot once the Instrument is Ready. Production mode gives a
    snapshot only for a complete range: the last hour is (one 1m bar each minute, gap-free); 72 hours
    reach back before anything the ingestor stored, so that build fails with the builder's
    DatasetIncomplete message naming what is missing, and no snapshot is registered for it."""
    complete = sample_featureset(range="1h", schedule=None)
    reaching = sample_featureset(range="72h", schedule=None)
    reaching["metadata"]["name"] = "gold-72h"
    create_all(crds_installed, namespace, tmp_path, [complete, reaching])

    obj = finished(crds_installed, namespace, "gold-1m")
    assert (obj["status"]["build"]["trigger"], obj["status"]["build"]["mode"]) == ("Initial", "production")
    assert obj["status"]["build"]["phase"] == "Succeeded", json.dumps(obj["status"])
    wait_for(crds_installed, namespace, "FeatureSet", "gold-1m", "Ready", "SnapshotReady")
    latest = get_object(crds_installed, namespace, "FeatureSet", "gold-1m")["status"]["latestSnapshot"]
    assert latest["gapFree"] is True and latest["rows"] == 60

    failed = finished(crds_installed, namespace, "gold-72h")
    build, ready = failed["status"]["build"], condition(failed, "Ready")
    assert (build["phase"], ready["status"], ready["reason"]) == ("Failed", "False", "BuildFailed")
    # the builder's verdict with the gaps it found, e.g. "klines/1m <start>..<end>: 3082 missing"
    message = ready["message"]
    assert message.startswith("dataset incomplete") and "klines/1m" in message and "missing" in message
    assert "latestSnapshot" not in failed["status"]
    assert condition(failed, "Reconciling")["status"] == "True"  # retried later: gaps may heal


def test_a_parameter_out_of_range_stalls_with_the_registry_message(
    operator: Operator, crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    featureset = sample_featureset()
    # within the schema's widest range for n (log_return's 1..10000), outside rsi's own [2, 1000]
    featureset["spec"]["features"][1]["params"] = {"n": 5000}
    create_all(crds_installed, namespace, tmp_path, [featureset])
    wait_for(crds_installed, namespace, "FeatureSet", "gold-1m", "Stalled", "InvalidFeatureParameter")
    obj = get_object(crds_installed, namespace, "FeatureSet", "gold-1m")
    stalled = condition(obj, "Stalled")
    assert stalled["status"] == "True" and "'rsi_14'" in stalled["message"] and "'n'" in stalled["message"]
    assert "1000" in stalled["message"] and condition(obj, "Ready")["status"] == "False"
    assert "fingerprint" not in obj["status"] and "build" not in obj["status"]
    # the operator is fine: the next object is reconciled as usual
    other = sample_featureset()
    other["metadata"]["name"] = "gold-ok"
    create_all(crds_installed, namespace, tmp_path, [other])
    wait_for(crds_installed, namespace, "FeatureSet", "gold-ok", "Ready", "InstrumentNotFound")


def test_an_unknown_transform_is_rejected_by_the_api_server_naming_the_field(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    featureset = sample_featureset()
    featureset["spec"]["features"][0]["transform"] = "ema_ratio"
    result = create(crds_installed, namespace, tmp_path, featureset)
    assert result.returncode != 0
    assert "spec.features[0].transform" in result.stderr and "Unsupported value" in result.stderr
    assert '"ema_ratio"' in result.stderr and '"log_return"' in result.stderr
