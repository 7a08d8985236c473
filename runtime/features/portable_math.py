"""Logarithm, sine and cosine with the same last bit on every CPU, SIMD width and C library.

Why: ``numpy.log`` and ``math.log`` are not one function. numpy runs its own AVX-512 logarithm and
exponential on CPUs that have AVX-512 and the C library's elsewhere, and the C library (glibc)
itself picks a fused-multiply-add variant of ``log``, ``sin`` and ``cos`` on CPUs with FMA. The
variants differ in the last bit for a fraction of inputs (about 1 in 200 for ``log`` between the
AVX-512 and the plain path), so log returns, volatilities and the time-of-day features of the same
bars came out different on different machines, and with them the dataset snapshot's hash.

So the features compute these three functions here, from IEEE-754 operations only: ``+ - * /``
(correctly rounded on every conforming CPU whatever the vector width, and never fused, since each
numpy ufunc call and each Python float operation rounds on its own), exact scaling by powers of two
(``frexp``) and integer arithmetic. The evaluation order is written out below, so the result is a
function of the input alone. The polynomials are fdlibm's (Sun Microsystems, 1993, freely
redistributable), whose errors stay below one unit in the last place.

Each function takes a whole column (numpy array, batch) or one number (live) and runs the *same*
formula on both; only the range reduction is spelled twice (``numpy.frexp`` on arrays,
``math.frexp`` on a float), and both are exact.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LN2_HI = 6.93147180369123816490e-01
"""``ln 2`` to 32 bits, so ``k * LN2_HI`` is exact for every binary exponent ``k``."""
LN2_LO = 1.90821492927058770002e-10
LG = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
    1.818357216161805012e-01,
    1.531383769920937332e-01,
    1.479819860511658591e-01,
)
SIN = (
    -1.66666666666666324348e-01,
    8.33333333332248946124e-03,
    -1.98412698298579493134e-04,
    2.75573137070700676789e-06,
    -2.50507602534068634195e-08,
    1.58969099521155010221e-10,
)
COS = (
    4.16666666666666019037e-02,
    -1.38888888888741095749e-03,
    2.48015872894767294178e-05,
    -2.75573143513906633035e-07,
    2.08757232129817482790e-09,
    -1.13596475577881948265e-11,
)
SQRT_HALF = math.sqrt(0.5)
CHUNK = 1 << 14
"""Elements per vectorised step: the formula's temporaries stay in the CPU cache."""
TWO_PI = 2.0 * math.pi


def _log_of_reduced(f: Any, k: Any) -> Any:
    """``log((1 + f) * 2**k)`` for ``sqrt(1/2) <= 1 + f < sqrt(2)``: operators only, one order."""
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    even = w * (LG[1] + w * (LG[3] + w * LG[5]))
    odd = z * (LG[0] + w * (LG[2] + w * (LG[4] + w * LG[6])))
    half_square = 0.5 * f * f
    return k * LN2_HI - ((half_square - (s * (half_square + (odd + even)) + k * LN2_LO)) - f)


def log(x: Any) -> Any:
    """Natural logarithm: a float for a number, an array for an array (NaN below 0, -inf at 0)."""
    if np.ndim(x) == 0:
        value = float(x)
        if not 0.0 < value < math.inf:
            return -math.inf if value == 0.0 else value if value == math.inf else math.nan
        mantissa, exponent = math.frexp(value)
        if mantissa < SQRT_HALF:
            mantissa, exponent = mantissa * 2.0, exponent - 1
        return float(_log_of_reduced(mantissa - 1.0, float(exponent)))
    values = np.asarray(x, dtype=np.float64)
    result = np.empty(values.shape)
    if values.size == 0:
        return result
    smallest, largest = np.fmin.reduce(values, axis=None), np.fmax.reduce(values, axis=None)  # NaN aside
    flat_in, flat_out = values.reshape(-1), result.reshape(-1)
    if smallest >= SQRT_HALF and largest < 2.0 * SQRT_HALF:
        # every value is its own reduced mantissa (k = 0), as price ratios are: the same bits as
        # the general reduction gives them, without its work (a NaN stays NaN either way)
        if values.size <= CHUNK:
            reduced: np.ndarray[Any, np.dtype[np.float64]] = _log_of_reduced(values - 1.0, 0.0)
            return reduced
        for start in range(0, len(flat_in), CHUNK):
            flat_out[start : start + CHUNK] = _log_of_reduced(flat_in[start : start + CHUNK] - 1.0, 0.0)
        return result
    with np.errstate(all="ignore"):  # non-positive and infinite inputs are replaced below
        for start in range(0, len(flat_in), CHUNK):
            mantissas, exponents = np.frexp(flat_in[start : start + CHUNK])
            low = mantissas < SQRT_HALF
            mantissas *= 1.0 + low  # times 2 where below sqrt(1/2): exact
            exponents -= low
            flat_out[start : start + CHUNK] = _log_of_reduced(mantissas - 1.0, exponents.astype(np.float64))
    if not (smallest > 0.0 and largest < math.inf):
        regular = (values > 0.0) & (values < math.inf)
        special = np.where(values == 0.0, -math.inf, np.where(values == math.inf, math.inf, math.nan))
        result = np.where(regular, result, special)
    return result


def _sin_of_reduced(x: Any) -> Any:
    """``sin(x)`` for ``|x| <= pi/4``."""
    z = x * x
    r = SIN[1] + z * (SIN[2] + z * (SIN[3] + z * (SIN[4] + z * SIN[5])))
    return x + (z * x) * (SIN[0] + z * r)


def _cos_of_reduced(x: Any) -> Any:
    """``cos(x)`` for ``|x| <= pi/4``, with ``1 - x^2/2`` split so its rounding error is kept."""
    z = x * x
    r = z * (COS[0] + z * (COS[1] + z * (COS[2] + z * (COS[3] + z * (COS[4] + z * COS[5])))))
    half = 0.5 * z
    w = 1.0 - half
    return w + (((1.0 - w) - half) + z * r)


def _turn_sin_parts(within: Any, period: int) -> tuple[Any, Any, Any]:
    """Sine and cosine of the remainder after the nearest quarter turn, and that quarter (0..4).

    ``within`` is ``numerator mod period`` (an integer, or int64 array): the reduction is integer
    arithmetic, hence exact, and leaves at most an eighth of a turn for the polynomials.
    """
    quarter = period // 4
    quadrant = (within + quarter // 2) // quarter
    angle = (within - quadrant * quarter) * (TWO_PI / period)
    return quadrant, _sin_of_reduced(angle), _cos_of_reduced(angle)


def turn_sin_cos(numerator: Any, period: int) -> tuple[Any, Any]:
    """``sin`` and ``cos`` of ``2 pi numerator / period`` for an integer ``numerator`` (int, or int64
    array) and a ``period`` divisible by 4: floats for a number, arrays for an array."""
    if period <= 0 or period % 4:
        raise ValueError(f"period must be a positive multiple of 4, got {period}")
    if np.ndim(numerator) == 0:
        quadrant, sine, cosine = _turn_sin_parts(int(numerator) % period, period)
        quadrant %= 4
        waves = (sine, cosine, -sine, -cosine)
        return float(waves[quadrant]), float(waves[(quadrant + 1) % 4])
    within = np.asarray(numerator, dtype=np.int64) % period
    sines, cosines = np.empty(within.shape), np.empty(within.shape)
    flat_in, flat_sines, flat_cosines = within.reshape(-1), sines.reshape(-1), cosines.reshape(-1)
    for start in range(0, len(flat_in), CHUNK):
        quadrant, sine, cosine = _turn_sin_parts(flat_in[start : start + CHUNK], period)
        odd, negative = (quadrant & 1) != 0, (quadrant & 2) != 0
        value = np.where(odd, cosine, sine)
        flat_sines[start : start + CHUNK] = np.negative(value, out=value, where=negative)
        value = np.where(odd, sine, cosine)
        flat_cosines[start : start + CHUNK] = np.negative(value, out=value, where=negative != odd)
    return sines, cosines
