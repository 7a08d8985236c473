"""Batch, incremental and the backtest's Parquet table reproduce the golden vectors of a simulator window.

The Parquet table is the dataset snapshot's own file (``snapshot.parquet_bytes``) read back with the
fingerprint check a backtest must make. What holds, measured: batch and the Parquet table are
bit-identical to the golden rows, and so is the live path, for every column (the linear recurrences
included: batch runs them as a sequential filter that rounds each step exactly like the live step).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from tradeplane.runtime.features.compat import ContractMismatch, FeatureVector
from tradeplane.runtime.features.contract import FeatureContract
from tradeplane.runtime.features.parity import (
    Golden,
    SimWindow,
    dump_golden,
    golden_from,
    inputs_digest,
    load_golden,
    parity_contract,
    read_feature_table,
    sim_inputs,
    write_feature_table,
)
from tradeplane.runtime.features.replay import feed, live_events

pytestmark = pytest.mark.unit

GOLDEN_FILE = Path(__file__).resolve().parents[2] / "golden" / "features_sim_seed7.json"
PARITY_FINGERPRINT = "sha256:013ebbfa19662ed0bde71cf73c9dcb7632af710db9c0f4bd3bb3d638c6da2b9a"


@pytest.fixture(scope="module")
def golden() -> Golden:
    return load_golden(GOLDEN_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def computed() -> tuple[FeatureContract, np.ndarray, np.ndarray]:
    """The contract, its batch matrix over the simulator window, and the live rows fed bar by bar."""
    contract = parity_contract()
    inputs = sim_inputs(SimWindow())
    plan = contract.plan()
    live = plan.incremental(inputs.funding_schedule)
    rows = []
    for index, event in enumerate(live_events(inputs)):
        row = feed(live, event)
        if index >= contract.warmup:
            FeatureVector.of(contract, row).check(contract)  # what the executor checks per bar
        rows.append(row)
    return contract, plan.batch(inputs), np.array(rows)


def golden_part(golden: Golden, matrix: np.ndarray) -> np.ndarray:
    return matrix[golden.first_row : golden.first_row + len(golden.rows)]


def first_difference(golden: Golden, values: np.ndarray) -> str:
    rows, columns = np.nonzero(values != golden.rows)
    if not len(rows):
        return "none"
    row, column = int(rows[0]), int(columns[0])
    name = golden.contract.column_names[column]
    return f"{name} at golden row {row}: {values[row, column]!r} != {golden.rows[row, column]!r}"


def test_golden_file_describes_this_window_and_contract(golden: Golden) -> None:
    assert golden.window == SimWindow()
    assert golden.contract == parity_contract()
    assert golden.contract.fingerprint == PARITY_FINGERPRINT
    assert golden.rows.shape == (300, 28) and golden.first_row == golden.contract.warmup == 299
    assert not np.isnan(golden.rows).any()


def test_the_simulator_still_serves_the_same_history(golden: Golden) -> None:
    """Checked first and separately: if this fails, the simulator changed, not a feature."""
    inputs = sim_inputs(golden.window)
    assert inputs_digest(inputs) == golden.inputs_digest, "the simulator's seeded history changed"
    close = inputs.bars.close_time_ms[golden.first_row : golden.first_row + len(golden.rows)]
    assert tuple(int(t) for t in close) == golden.close_time_ms
    assert len(inputs.context["1h"]) == 11 and len(inputs.funding) == 2 and len(inputs.mark) == 660
    assert int(inputs.bars.open_time_ms[0]) % 3_600_000 == 56 * 60_000  # base starts mid-hour


def test_batch_reproduces_the_golden_vectors_bit_for_bit(
    golden: Golden, computed: tuple[FeatureContract, np.ndarray, np.ndarray]
) -> None:
    batch = golden_part(golden, computed[1])
    assert batch.tobytes() == golden.rows.tobytes(), first_difference(golden, batch)
    assert np.isnan(computed[1][: golden.first_row, -1]).all()  # the slowest column is not ready before


def test_incremental_reproduces_the_golden_vectors_bit_for_bit(
    golden: Golden, computed: tuple[FeatureContract, np.ndarray, np.ndarray]
) -> None:
    contract, _, live_rows = computed
    live = golden_part(golden, live_rows)
    for index, name in enumerate(contract.column_names):
        got, want = live[:, index], golden.rows[:, index]
        assert got.tobytes() == want.tobytes(), f"{name}: live is not bit-identical to batch"
    assert live.tobytes() == golden.rows.tobytes(), first_difference(golden, live)


def test_the_backtest_parquet_table_reproduces_the_golden_vectors(
    golden: Golden, computed: tuple[FeatureContract, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    contract, batch, _ = computed
    inputs = sim_inputs(golden.window)
    path = tmp_path / "features.parquet"
    write_feature_table(path, contract, inputs.bars, batch)
    close, table = read_feature_table(path, golden.contract)
    assert np.array_equal(close, inputs.bars.close_time_ms)
    assert table.values.tobytes() == batch.tobytes()
    part = golden_part(golden, table.values)
    assert part.tobytes() == golden.rows.tobytes(), first_difference(golden, part)


def test_the_parquet_table_is_refused_for_another_contract(
    computed: tuple[FeatureContract, np.ndarray, np.ndarray], tmp_path: Path
) -> None:
    contract, batch, _ = computed
    inputs = sim_inputs(SimWindow())
    path = tmp_path / "features.parquet"
    write_feature_table(path, contract, inputs.bars, batch)
    other = FeatureContract.from_json(contract.to_json().replace('"window":64', '"window":32'))
    with pytest.raises(ContractMismatch, match="same column names, different parameters"):
        read_feature_table(path, other)
    table = pq.read_table(path)
    bare = tmp_path / "bare.parquet"
    pq.write_table(table.replace_schema_metadata({}), bare)
    with pytest.raises(ContractMismatch, match="carries no feature contract"):
        read_feature_table(bare, contract)
    dropped = tmp_path / "dropped.parquet"
    pq.write_table(table.drop_columns(["rsi_14"]), dropped)
    with pytest.raises(ValueError, match="columns in the schema metadata are not the table's"):
        read_feature_table(dropped, contract)


def test_golden_text_round_trips_exactly(golden: Golden) -> None:
    text = GOLDEN_FILE.read_text(encoding="utf-8")
    assert dump_golden(load_golden(text)) == text
    with pytest.raises(ValueError, match="does not match its stored fingerprint"):
        load_golden(text.replace('"window": 64', '"window": 65', 1))


def test_golden_writer_refuses_windows_too_short_or_not_warmed_up(golden: Golden) -> None:
    inputs = sim_inputs(golden.window)
    matrix = golden.contract.plan().batch(inputs)
    with pytest.raises(ValueError, match="need 1299 base bars for 1000 golden rows, have 604"):
        golden_from(golden.window, inputs, golden.contract, matrix, 1000)
    warming = Golden(golden.window, golden.inputs_digest, golden.contract, 0, (), matrix[:5])
    with pytest.raises(ValueError, match="past every column's warm-up"):
        dump_golden(warming)
    with pytest.raises(ValueError, match="golden format 2"):
        load_golden(GOLDEN_FILE.read_text(encoding="utf-8").replace('"format": 1', '"format": 2', 1))
