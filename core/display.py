"""Display levels: which values map to black and white, stated rather than guessed.

An inspector that auto-levels each panel makes ``x``, ``x / 255`` and a min-max stretch look
identical. NormScope draws the original in its dtype range (or its data range) and the
normalized array in its own finite data range, and says which.
"""

from __future__ import annotations

import numpy as np

__all__ = ["display_levels"]


def display_levels(image: np.ndarray, *, mode: str = "data") -> tuple[float, float]:
    """The (low, high) values to draw as the ends of the colour map.

    Parameters
    ----------
    image : ndarray
    mode : {"data", "dtype"}
        ``"dtype"``: the full range of an integer dtype (uint8: 0 … 255) or 0 … 1 for bool;
        floats fall back to their data range. ``"data"``: the finite minimum and maximum.

    Returns
    -------
    (float, float)
        Always low < high: a constant image gets a unit range around its value, an empty
        or all-NaN image gets (0, 1).

    Examples
    --------
    >>> display_levels(np.array([3, 7], np.uint8), mode="dtype")
    (0.0, 255.0)
    >>> display_levels(np.array([0.25, np.nan, 0.5]))
    (0.25, 0.5)
    >>> display_levels(np.full(4, 2.0))
    (1.5, 2.5)
    """
    a = np.asarray(image)
    if mode not in ("data", "dtype"):
        raise ValueError(f"mode must be 'data' or 'dtype', not {mode!r}")
    if mode == "dtype" and a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        return float(info.min), float(info.max)
    if mode == "dtype" and a.dtype.kind == "b":
        return 0.0, 1.0
    finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if lo == hi:
        return lo - 0.5, hi + 0.5
    return lo, hi
