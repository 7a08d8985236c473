"""Rewrite the golden feature vectors (tests/golden/features_sim_seed7.json). Never run by the tests.

Run it only when a change to the numbers is intended (a new or changed formula, a new simulator
history), then review the diff and say why in the commit message:

    .venv/bin/python tests/golden/regenerate.py

The vectors are the *batch* path's rows for the simulator window ``SimWindow()`` (seed 7, XAUT-USDT,
11 hours of 1m history before the simulator's default start), from the contract's warm-up on. The
test (tests/unit/features/test_parity_golden.py) checks that batch, incremental and the Parquet
backtest table all reproduce them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tradeplane.runtime.features.parity import (
    SimWindow,
    dump_golden,
    golden_from,
    parity_contract,
    sim_inputs,
)

GOLDEN = Path(__file__).with_name("features_sim_seed7.json")
ROWS = 300


def main() -> int:
    window = SimWindow()
    contract = parity_contract()
    inputs = sim_inputs(window)
    matrix = contract.plan().batch(inputs)
    GOLDEN.write_text(dump_golden(golden_from(window, inputs, contract, matrix, ROWS)), encoding="utf-8")
    print(f"wrote {GOLDEN} ({ROWS} rows x {len(contract.columns)} columns, {contract.fingerprint})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
