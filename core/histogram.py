"""Exact histograms: every pixel counted, nothing subsampled.

pyqtgraph's own ``ImageItem.getHistogram`` subsamples large images; NormScope plots these
counts instead, so the histogram under a panel is the truth about the array.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Histogram", "JointHistogram", "histogram", "joint_histogram"]


@dataclass(frozen=True, eq=False)
class Histogram:
    """Counts per bin. ``edges`` has one more entry than ``counts``.

    Attributes
    ----------
    counts : ndarray of int64
    edges : ndarray of float64
    nonfinite : int
        Pixels that are NaN or infinite, counted apart from the bins.
    """

    counts: np.ndarray
    edges: np.ndarray
    nonfinite: int = 0

    @property
    def total(self) -> int:
        return int(self.counts.sum()) + self.nonfinite


@dataclass(frozen=True, eq=False)
class JointHistogram:
    """Counts of (before, after) value pairs: ``counts[i, j]`` has before in bin i, after in j."""

    counts: np.ndarray
    x_edges: np.ndarray
    y_edges: np.ndarray


def _edges(values: np.ndarray, bins: int, value_range: tuple[float, float] | None) -> np.ndarray:
    """Bin edges for `values`: one bin per integer level when they fit, else `bins` equal bins."""
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
    elif values.size:
        lo, hi = float(values.min()), float(values.max())
    else:
        lo, hi = 0.0, 1.0
    integral = values.dtype.kind in "uib"
    if integral and hi - lo + 1 <= bins:
        return np.arange(lo, hi + 2, dtype=np.float64) - 0.5
    if hi == lo:
        return np.array([lo - 0.5, hi + 0.5])
    return np.linspace(lo, hi, bins + 1)


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (values must lie within the edges); the last bin is closed."""
    if values.dtype.kind in "uib" and np.all(np.diff(edges) == 1.0):
        return (values.astype(np.int64) - int(edges[0] + 0.5)).ravel()
    idx = np.searchsorted(edges, values.ravel(), side="right") - 1
    return np.minimum(idx, len(edges) - 2)


def histogram(
    image: np.ndarray, *, bins: int = 256, range: tuple[float, float] | None = None
) -> Histogram:
    """Exact histogram of every finite pixel of `image`.

    Integer (and bool) data with at most `bins` distinct levels between its minimum and
    maximum get one bin per level, centred on it; other data get `bins` equal bins over
    the finite range (or `range`). NaN and infinite pixels are counted in ``nonfinite``.

    Parameters
    ----------
    image : ndarray
        Any shape, any numeric dtype.
    bins : int, optional
        The most bins to use.
    range : (float, float), optional
        The value range to bin; values outside it are not counted.

    Returns
    -------
    Histogram
        ``counts`` int64 and ``edges`` float64.

    Examples
    --------
    >>> h = histogram(np.array([[0, 0, 1], [3, 3, 3]], np.uint8))
    >>> h.counts.tolist(), h.edges.tolist()
    ([2, 1, 0, 3], [-0.5, 0.5, 1.5, 2.5, 3.5])
    >>> histogram(np.array([0.0, np.nan, 1.0]), bins=2).nonfinite
    1
    """
    a = np.asarray(image)
    if a.dtype.kind not in "uifb":
        raise TypeError(f"cannot histogram {a.dtype} data")
    values = a.ravel()
    nonfinite = 0
    if a.dtype.kind == "f":
        finite = np.isfinite(values)
        nonfinite = int(values.size - np.count_nonzero(finite))
        if nonfinite:
            values = values[finite]
    if a.dtype.kind == "b":
        values = values.view(np.uint8)
    edges = _edges(values, bins, range)
    if range is not None:
        values = values[(values >= edges[0]) & (values <= edges[-1])]
    counts = np.bincount(_bin_index(values, edges), minlength=len(edges) - 1)
    return Histogram(counts.astype(np.int64), edges, nonfinite)


def joint_histogram(before: np.ndarray, after: np.ndarray, *, bins: int = 128) -> JointHistogram:
    """Counts of (before, after) value pairs over pixels finite in both.

    A global monotone normalization draws a curve (each before-bin lands in few after-bins);
    a per-column or per-row scaling draws a cloud.

    Examples
    --------
    >>> x = np.array([[0, 1], [2, 3]], np.uint8)
    >>> j = joint_histogram(x, x / 3.0, bins=4)
    >>> j.counts.tolist()
    [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]]
    """
    b, a = np.asarray(before), np.asarray(after)
    if b.shape != a.shape:
        raise ValueError(f"before {b.shape} and after {a.shape} differ in shape")
    b, a = b.ravel(), a.ravel()
    ok = np.ones(b.shape, bool)
    for v in (b, a):
        if v.dtype.kind == "f":
            ok &= np.isfinite(v)
    if not ok.all():
        b, a = b[ok], a[ok]
    if b.dtype.kind == "b":
        b = b.view(np.uint8)
    if a.dtype.kind == "b":
        a = a.view(np.uint8)
    xe, ye = _edges(b, bins, None), _edges(a, bins, None)
    nx, ny = len(xe) - 1, len(ye) - 1
    flat = _bin_index(b, xe) * ny + _bin_index(a, ye)
    counts = np.bincount(flat, minlength=nx * ny).reshape(nx, ny).astype(np.int64)
    return JointHistogram(counts, xe, ye)
