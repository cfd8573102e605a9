"""Exact histograms: every pixel counted, nothing subsampled.

pyqtgraph's own ``ImageItem.getHistogram`` subsamples large images; NormScope plots these
counts instead, so the histogram under a panel is the truth about the array.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import cast

import numpy as np

from normscope.core import engine as _engine
from normscope.core.dtypes import canonical, distinct_levels

__all__ = ["Histogram", "JointHistogram", "finite_range", "histogram", "joint_histogram"]


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
        """Every value counted: those in the bins and the non-finite ones."""
        return int(self.counts.sum()) + self.nonfinite


@dataclass(frozen=True, eq=False)
class JointHistogram:
    """Counts of (before, after) value pairs: ``counts[i, j]`` has before in bin i, after in j."""

    counts: np.ndarray
    x_edges: np.ndarray
    y_edges: np.ndarray


def _for_kernels(v: np.ndarray) -> np.ndarray:
    """`v`, with float16 widened to float32 (exactly): numba has no float16."""
    return v.astype(np.float32) if v.dtype == np.float16 else v


def finite_range(values: np.ndarray, others: np.ndarray | None = None) -> tuple[float, float, int]:
    """Smallest and largest finite value of `values`, and the number of pixels they range over.

    The pixels are those where `others` (same shape) is finite too; ``(inf, -inf, 0)`` for none.

    Examples
    --------
    >>> finite_range(np.array([2.0, np.nan, -1.0, np.inf]))
    (-1.0, 2.0, 2)
    """
    values = _for_kernels(np.ravel(canonical(values)))
    others = None if others is None else _for_kernels(np.ravel(canonical(others)))
    compiled = _engine.kernels()
    if compiled is not None:
        cuts = np.linspace(0, values.size, _engine.threads() + 1 if values.size > 1 << 20 else 2)
        found: list[tuple[float, float, int]] = []

        def part(k0: int, k1: int) -> None:
            paired = np.empty(1) if others is None else others[k0:k1]
            found.append(compiled.finite_range(values[k0:k1], paired))

        _engine.in_parts(part, list(itertools.pairwise(cuts.astype(int).tolist())))
        lows, highs, counts = zip(*found, strict=True)
        return float(min(lows)), float(max(highs)), int(sum(counts))
    ok = np.ones(values.shape, bool)
    for v in (values, others):
        if v is not None and v.dtype.kind == "f":
            ok &= np.isfinite(v)
    kept = values if ok.all() else values[ok]
    if not kept.size:
        return math.inf, -math.inf, 0
    return float(kept.min()), float(kept.max()), int(kept.size)


def _edges(
    lo: float, hi: float, integral: bool, bins: int, value_range: tuple[float, float] | None
) -> np.ndarray:
    """Bin edges: one bin per integer level when they fit, else `bins` equal bins."""
    if value_range is not None:
        lo, hi = float(value_range[0]), float(value_range[1])
    elif lo > hi:  # no finite value
        lo, hi = 0.0, 1.0
    if integral and hi - lo + 1 <= bins and max(abs(lo), abs(hi)) < 2**52:
        return np.arange(lo, hi + 2, dtype=np.float64) - 0.5
    if hi == lo:
        return np.array(distinct_levels(lo, hi))
    if np.isinf(hi - lo):  # the widest ranges: halves, so that the step stays finite
        return np.linspace(lo / 2, hi / 2, bins + 1) * 2
    return np.linspace(lo, hi, bins + 1)


def _bin_index(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each value (values must lie within the edges); the last bin is closed."""
    if values.dtype.kind in "uib" and np.all(np.diff(edges) == 1.0):
        return (values.astype(np.int64) - int(edges[0] + 0.5)).ravel()
    idx = np.searchsorted(edges, values.ravel(), side="right") - 1
    return np.minimum(idx, len(edges) - 2)


def _within(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Mask of the finite values between the first and the last edge."""
    with np.errstate(invalid="ignore"):
        return cast(np.ndarray, (values >= edges[0]) & (values <= edges[-1]))


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
    a = canonical(image)
    if a.dtype.kind not in "uifb":
        raise TypeError(f"cannot histogram {a.dtype} data")
    values = _for_kernels(a.ravel())
    if a.dtype.kind == "b":
        values = values.view(np.uint8)  # canonical: every byte is 0 or 1
    lo, hi, finite = finite_range(values)
    edges = _edges(lo, hi, a.dtype.kind in "uib", bins, range)
    counts = np.zeros(len(edges) - 1, np.int64)
    compiled = _engine.kernels()
    if compiled is not None:
        compiled.bin_counts(values, edges, counts)
    else:
        counts += np.bincount(
            _bin_index(values[_within(values, edges)], edges), minlength=len(counts)
        )
    return Histogram(counts, edges, values.size - finite)


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
    b, a = canonical(before), canonical(after)
    if b.shape != a.shape:
        raise ValueError(f"before {b.shape} and after {a.shape} differ in shape")
    b, a = _for_kernels(b.ravel()), _for_kernels(a.ravel())
    b = b.view(np.uint8) if b.dtype.kind == "b" else b  # canonical: bytes 0 and 1
    a = a.view(np.uint8) if a.dtype.kind == "b" else a
    xlo, xhi, _ = finite_range(b, a)
    ylo, yhi, _ = finite_range(a, b)
    xe = _edges(xlo, xhi, b.dtype.kind in "uib", bins, None)
    ye = _edges(ylo, yhi, a.dtype.kind in "uib", bins, None)
    counts = np.zeros((len(xe) - 1, len(ye) - 1), np.int64)
    compiled = _engine.kernels()
    if compiled is not None:
        compiled.joint_counts(b, a, xe, ye, counts)
        return JointHistogram(counts, xe, ye)
    ok = _within(b, xe) & _within(a, ye)
    flat = _bin_index(b[ok], xe) * counts.shape[1] + _bin_index(a[ok], ye)
    counts += np.bincount(flat, minlength=counts.size).reshape(counts.shape)
    return JointHistogram(counts, xe, ye)
