"""What users see from ``kubectl``: printer columns, the ``tradeplane`` category, short names, selectors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness.cluster import ClusterHandle
from harness.crds import create, create_all, get_object, patch_object
from integration.crd_examples import EXAMPLES, example

from tradeplane.crds import instrument
from tradeplane.crds.registry import BY_KIND, KINDS

pytestmark = pytest.mark.integration


def _header(cluster: ClusterHandle, namespace: str, resource: str) -> list[str]:
    lines = cluster.kubectl("get", "-n", namespace, resource).stdout.splitlines()
    return lines[0].split()


@pytest.mark.parametrize("info", KINDS, ids=[i.kind for i in KINDS])
def test_printer_columns_in_kubectlget_object(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path, info: Any
) -> None:
    assert create(crds_installed, namespace, tmp_path, example(info.kind)).returncode == 0
    expected = ["NAME"] + [c.name.upper() for c in info.columns if c.priority == 0]
    assert _header(crds_installed, namespace, f"{info.plural}.tradeplane.io") == expected
    assert expected[-2:] == ["READY", "AGE"]


def test_instrument_and_rollout_columns_show_status(
    crds_installed: ClusterHandle, namespace: str, tmp_path: Path
) -> None:
    create_all(crds_installed, namespace, tmp_path, list(EXAMPLES.values()))
    now = "2026-11-24T12:00:00Z"
    ready = {
        "type": "Ready",
        "status": "True",
        "reason": "Converged",
        "message": "ok",
        "lastTransitionTime": now,
    }
    instrument_status = {
        "observedGeneration": 1,
        "conditions": [ready],
        "metadata": {
            "version": 3,
            "snapshotId": 17,
            "fingerprint": "sha256:" + "12" * 32,
            "state": "Fresh",
            "fetchedTime": now,
            "validUntil": now,
            "pricePrecision": 2,
            "quantityPrecision": 4,
            "tickSize": "0.01",
            "stepSize": "0.0001",
            "minQuantity": "0.0001",
            "minNotional": "2",
            "makerFeeRate": "0.0002",
            "takerFeeRate": "0.0005",
            "fundingInterval": "8h",
        },
        "ingest": {"lag": "850ms"},
        "gaps": {"open": 2, "healed": 5},
        "audit": {"seq": 4, "headHash": "sha256:" + "34" * 32},
    }
    result = patch_object(
        crds_installed,
        namespace,
        "Instrument",
        "xaut-usdt",
        {"status": instrument_status},
        "--subresource=status",
    )
    assert result.returncode == 0, result.stderr
    row = crds_installed.kubectl("get", "-n", namespace, "instruments.tradeplane.io", "xaut-usdt").stdout
    assert row.splitlines()[1].split()[:6] == ["xaut-usdt", "XAUT-USDT", "Fresh", "850ms", "2", "True"]
    rollout_status = {
        "phase": "Progressing",
        "currentStepIndex": 2,
        "canaryWeight": 5,
        "stableVersion": "gold-ppo-v0",
        "canaryVersion": "gold-ppo-v1",
        "conditions": [{**ready, "status": "False", "reason": "Progressing"}],
    }
    result = patch_object(
        crds_installed,
        namespace,
        "Rollout",
        "gold-ppo-rollout",
        {"status": rollout_status},
        "--subresource=status",
    )
    assert result.returncode == 0, result.stderr
    row = crds_installed.kubectl("get", "-n", namespace, "rollouts.tradeplane.io", "gold-ppo-rollout").stdout
    assert row.splitlines()[1].split()[:7] == [
        "gold-ppo-rollout",
        "Progressing",
        "2",
        "5",
        "gold-ppo-v0",
        "gold-ppo-v1",
        "False",
    ]
    # The status as stored reads back into the pydantic models (Decimal strings, durations, audit head).
    stored = instrument.Instrument.model_validate(
        get_object(crds_installed, namespace, "Instrument", "xaut-usdt")
    )
    assert stored.status is not None and stored.status.metadata is not None
    assert str(stored.status.metadata.tick_size) == "0.01"


def test_category_lists_every_kind(crds_installed: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    create_all(crds_installed, namespace, tmp_path, list(EXAMPLES.values()))
    names = set(crds_installed.kubectl("get", "tradeplane", "-n", namespace, "-o", "name").stdout.split())
    expected = {f"{BY_KIND[k].singular}.tradeplane.io/{o['metadata']['name']}" for k, o in EXAMPLES.items()}
    assert names == expected
    table = crds_installed.kubectl("get", "tradeplane", "-n", namespace).stdout
    for info in KINDS:
        assert f"{info.singular}.tradeplane.io/" in table


def test_short_names_work(crds_installed: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    create_all(crds_installed, namespace, tmp_path, list(EXAMPLES.values()))
    for info in KINDS:
        for short in info.short_names:
            result = crds_installed.kubectl("get", short, "-n", namespace, "-o", "name")
            assert result.stdout.split() == [
                f"{info.singular}.tradeplane.io/{EXAMPLES[info.kind]['metadata']['name']}"
            ]


def test_field_selectors_on_references(crds_installed: ClusterHandle, namespace: str, tmp_path: Path) -> None:
    other = example("ModelVersion")
    other["metadata"]["name"] = "silver-ppo-v1"
    other["spec"]["modelRef"]["name"] = "silver-ppo"
    create_all(crds_installed, namespace, tmp_path, [example("ModelVersion"), other])
    for model_name, expected in (
        ("gold-ppo", "gold-ppo-v1"),
        ("silver-ppo", "silver-ppo-v1"),
        ("none", None),
    ):
        result = crds_installed.kubectl(
            "get", "-n", namespace, "mv", f"--field-selector=spec.modelRef.name={model_name}", "-o", "name"
        )
        assert result.stdout.split() == ([f"modelversion.tradeplane.io/{expected}"] if expected else [])
    for info in KINDS:
        for path in info.selectable_fields:
            selector = f"{path.lstrip('.')}=x"
            listed = crds_installed.kubectl(
                "get", "-n", namespace, info.plural, f"--field-selector={selector}"
            )
            assert listed.returncode == 0, listed.stderr
