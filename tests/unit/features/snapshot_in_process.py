"""Build the golden window's dataset snapshot file in this process and describe the BLAS it ran with.

Run by test_reproducible_snapshots.py as ``python snapshot_in_process.py OUT.parquet`` under varied
OpenBLAS settings. Prints one JSON line: the sha256 of the Parquet bytes written to OUT, the kernel
and thread count every loaded OpenBLAS reports (read from the libraries themselves, so a setting the
library ignored is caught), and the digest of a plain matrix product that does depend on the kernel
(proof that the settings really changed the arithmetic BLAS does in this process).
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from tradeplane.runtime.features.parity import SimWindow, parity_contract, sim_inputs
from tradeplane.runtime.features.snapshot import parquet_bytes


def openblas_state() -> list[dict[str, object]]:
    """Kernel name and thread count of each OpenBLAS mapped into this process."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        paths = sorted({line.split()[-1] for line in maps if "openblas" in line.rsplit("/", 1)[-1]})
    found = []
    for path in paths:
        library = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas_", "64_"), ("scipy_openblas_", ""), ("openblas_", "")):
            corename = getattr(library, f"{prefix}get_corename{suffix}", None)
            threads = getattr(library, f"{prefix}get_num_threads{suffix}", None)
            if corename is not None and threads is not None:
                corename.restype = ctypes.c_char_p
                found.append({"core": corename().decode(), "threads": int(threads())})
                break
    return found


def blas_probe() -> dict[str, str]:
    """Digests of a small matrix product (its bits change with the kernel: the shape of the blocked
    scan the recurrences once used) and of a long dot product (its bits change with the threads)."""
    rng = np.random.default_rng(5)
    left, right = rng.normal(size=(19, 32)), rng.normal(size=(32, 32))
    size = 1 << 20  # long enough that OpenBLAS splits it between threads
    vector = rng.normal(size=size) * np.exp2(rng.integers(-30, 30, size=size))  # order-sensitive sum
    return {
        "matmul": hashlib.sha256((left @ right).tobytes()).hexdigest(),
        "dot": hashlib.sha256(np.dot(vector, np.ones(size)).tobytes()).hexdigest(),
    }


def main(out: Path) -> int:
    window = SimWindow()
    contract = parity_contract()
    inputs = sim_inputs(window)
    matrix = contract.plan().batch(inputs)
    bars = inputs.bars
    data = parquet_bytes(
        bars.open_time_ms, bars.close_time_ms, matrix, contract.column_names, contract.fingerprint
    )
    out.write_bytes(data)
    report = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "openblas": openblas_state(),
        "blas_probe": blas_probe(),
    }
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
