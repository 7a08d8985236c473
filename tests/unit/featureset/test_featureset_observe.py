"""The operator side's one parsing rule: a failed local build's verdict block from its log."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradeplane.crds.annotations import DATASET_REQUESTED_AT
from tradeplane.crds.featureset import FeatureSetSpec
from tradeplane.operator.featureset import compute_contract
from tradeplane.runtime.features.registry import FeatureParamError, UnknownFeature
from tradeplane.runtime.workloads.verdict import last_error

pytestmark = pytest.mark.unit


def test_the_whole_incomplete_verdict_becomes_one_line(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text(
        "[tradeplane] start #0: tradeplane build-dataset ...\n"
        "dataset incomplete (2 problem(s)):\n"
        "  - klines/1m 2026-11-21T22:53:00.000Z..2026-11-24T02:14:00.000Z: 3082 missing\n"
        "  - funding: no funding rate known at 2026-11-22T02:14:00.000Z (the first row)\n"
        "[tradeplane] exited with code 2 after 1.3s\n"
    )
    assert last_error(log) == (
        "dataset incomplete (2 problem(s)): - klines/1m 2026-11-21T22:53:00.000Z..2026-11-24T02:14:00.000Z: "
        "3082 missing - funding: no funding rate known at 2026-11-22T02:14:00.000Z (the first row)"
    )


def test_other_failures_give_their_last_line_and_a_missing_log_gives_none(tmp_path: Path) -> None:
    log = tmp_path / "job.log"
    log.write_text("noise\nbuild-dataset failed: OperationalError\n[tradeplane] exited with code 1\n")
    assert last_error(log) == "build-dataset failed: OperationalError"
    log.write_text("[tradeplane] start\nTraceback line\n")
    assert last_error(log) == "Traceback line"
    assert last_error(tmp_path / "absent.log") is None


def test_registry_errors_are_returned_not_raised() -> None:
    base = {"instrumentRefs": [{"name": "x"}], "baseInterval": "1m"}
    unknown = FeatureSetSpec.model_validate({**base, "features": [{"name": "a", "transform": "nope"}]})
    assert isinstance(compute_contract(unknown), UnknownFeature)
    bad = FeatureSetSpec.model_validate(
        {**base, "features": [{"name": "a", "transform": "rsi", "params": {"n": 1}}]}
    )
    assert isinstance(compute_contract(bad), FeatureParamError)


def test_the_cli_writes_the_annotation_the_reconciler_reads() -> None:
    assert DATASET_REQUESTED_AT == DATASET_REQUESTED_AT
