"""Build the golden window's dataset snapshot file in this process and describe the arithmetic it ran on.

Run by test_reproducible_snapshots.py as ``python snapshot_in_process.py OUT.parquet`` under settings
that make this CPU behave like an older one. Prints one JSON line: the sha256 of the Parquet bytes
written to OUT; the kernel and thread count every loaded OpenBLAS reports and the numpy SIMD levels
in use (read from the libraries themselves, so a setting that was ignored is caught); and digests of
computations that do change with those settings (a matrix product, a long dot product, numpy's and
the C library's logarithm), proof that the settings really changed the arithmetic in this process.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import math
import sys
from pathlib import Path

import numpy as np
from numpy._core._multiarray_umath import __cpu_features__

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


def digest(values: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(values).tobytes()).hexdigest()


def math_probe() -> dict[str, str]:
    """Digests of numpy's and the C library's logarithm of fixed inputs (both vary by CPU)."""
    values = np.random.default_rng(3).uniform(0.5, 2.0, size=20_000)
    return {
        "numpy_log": digest(np.log(values)),
        "libm_log": digest(np.array([math.log(value) for value in values.tolist()])),
    }


def blas_probe() -> dict[str, str]:
    """Digests of a small matrix product (its bits change with the kernel: the shape of the blocked
    scan the recurrences once used) and of a long dot product (its bits change with the threads)."""
    rng = np.random.default_rng(5)
    left, right = rng.normal(size=(19, 32)), rng.normal(size=(32, 32))
    size = 1 << 20  # long enough that OpenBLAS splits it between threads
    vector = rng.normal(size=size) * np.exp2(rng.integers(-30, 30, size=size))  # order-sensitive sum
    return {
        "matmul": digest(left @ right),
        "dot": digest(np.dot(vector, np.ones(size))),
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
        "math_probe": math_probe(),
        "numpy_simd": sorted(name for name in ("X86_V3", "X86_V4") if __cpu_features__.get(name)),
    }
    print(json.dumps(report, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
