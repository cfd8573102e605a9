"""One canonical form for every array core works on, and level ranges that never collapse.

Arrays come from files and from Python callers in forms the compiled kernels cannot take or
would misread: big-endian integers and floats (numba refuses them), bool arrays whose bytes
are not 0 and 1 (Pillow stores True as 255 in 1-bit images; a ``.npy`` file may hold any
byte), and extended precision (``np.longdouble``). :func:`canonical` turns each into the
array it means; every public entry point of core calls it, and so does the loader.

Policy, per dtype:

==================  ==========================================================================
dtype               canonical form
==================  ==========================================================================
non-native order    the same dtype in native byte order (same values)
bool                bool whose every byte is 0 or 1: a byte other than 0 is True, as numpy
                    itself reads it (``a.view(np.uint8) != 0``)
float16             kept: every method and the rank diff take it (the kernels widen it)
longdouble          float64, rounded to nearest; a magnitude beyond float64's range becomes
(float96/float128)  ±inf (as the number it approximates best), NaN stays NaN. Values that only
                    differ below float64's 53 bits become equal, so such a file can show ties
                    it does not have; image data never needs more precision than float64.
anything else       unchanged (callers refuse what they cannot handle)
==================  ==========================================================================
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np

__all__ = ["canonical", "distinct_levels"]


def canonical(a: np.ndarray) -> np.ndarray:
    """`a` in the form core's kernels take: native byte order, 0/1 bools, at most float64.

    Parameters
    ----------
    a : array_like
        Any array; it is never changed.

    Returns
    -------
    ndarray
        `a` itself when it is canonical already (no copy), else a new array with the same
        meaning (see the module's table).

    Examples
    --------
    >>> big = np.array([1, 256], dtype=">u2")
    >>> canonical(big).dtype.isnative, canonical(big).tolist()
    (True, [1, 256])
    >>> raw = np.array([0, 1, 255, 2], np.uint8).view(bool)  # what 1-bit images hold
    >>> canonical(raw).view(np.uint8).tolist()
    [0, 1, 1, 1]
    >>> canonical(np.array([1.5, 1e4000], np.longdouble)).tolist()
    [1.5, inf]
    >>> x = np.arange(3.0)
    >>> canonical(x) is x
    True
    """
    x = np.asarray(a)
    if x.dtype.kind == "b":
        if x.size and x.view(np.uint8).max() > 1:
            return cast(np.ndarray, x.view(np.uint8) != 0)
        return x
    if x.dtype.kind == "f" and x.dtype.itemsize > 8:
        with np.errstate(over="ignore"):
            return x.astype(np.float64)
    if x.dtype.kind in "uif" and not x.dtype.isnative:
        return x.astype(x.dtype.newbyteorder("="))
    return x


def distinct_levels(lo: float, hi: float, pad: float = 0.5) -> tuple[float, float]:
    """Finite levels ``(low, high)`` with ``low < high`` around the finite range lo … hi.

    A range that is one value (``lo == hi``) is widened by `pad` each side, or, where the
    value is so large that adding `pad` changes nothing (``|lo| >= 2**52`` for 0.5), to the
    neighbouring floats. The result is always two distinct finite floats, so that
    ``high - low`` is never 0 (it may overflow to inf for the widest ranges: divide by
    halves then).

    Examples
    --------
    >>> distinct_levels(2.0, 2.0)
    (1.5, 2.5)
    >>> lo, hi = distinct_levels(1e16, 1e16)
    >>> lo < 1e16 < hi
    True
    >>> distinct_levels(0.25, 0.5)
    (0.25, 0.5)
    """
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"levels need finite ends, got {lo!r} and {hi!r}")
    if lo < hi:
        return lo, hi
    low, high = lo - pad, hi + pad
    if not low < high:
        low, high = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
    if math.isinf(high):
        high = hi
    if math.isinf(low):
        low = lo
    return low, high
