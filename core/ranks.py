"""Pixel-rank diff: after a normalization, is a brighter pixel still brighter?

For two arrays of one shape, ``before`` and ``after``, and a scope that splits the pixels
into groups, every pair of pixels of a group falls in exactly one class, by the signs of
``before[i] - before[j]`` and ``after[i] - after[j]``:

=============  ==========================  ===========================
class          before                      after
=============  ==========================  ===========================
concordant     unequal                     unequal, same order
discordant     unequal                     unequal, order flipped
tie broken     equal                       unequal
tie created    unequal                     equal
tie kept       equal                       equal
=============  ==========================  ===========================

All counts are exact integers. Pixels that are NaN in either array take part in no pair.

How it is computed, per group, all groups at once. The compiled engine (numba, see
:mod:`core._kernels`) makes one uint64 key per pixel, ``after_key << 32 | index``, sorts
each group's keys with numpy's SIMD sort, and walks the sorted keys once: tie runs of
after, a Fenwick tree over the before levels (the values themselves for 8- and 16-bit
data, else dense levels from a sort) for the inversions and each pixel's discordant
partners, average ranks for Spearman. Float64 data is keyed by float32; where that merges
distinct values the run is re-sorted by the exact values, so the counts stay exact. Big
groups are cut at key changes and walked on two threads. The numpy engine gets the same
numbers from stable sorts, run lengths and block histograms, O(n·(K/B + B)) for K levels.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from normscope.core import engine as _engine
from normscope.core.dtypes import canonical
from normscope.core.roles import SCOPES, Scope, infer_roles, scope_axes

__all__ = [
    "Diagnosis",
    "PairCounts",
    "RankDiff",
    "RankMaps",
    "RankTally",
    "diagnose",
    "image_chunks",
    "rank_compare",
    "rank_diff",
    "rank_maps",
    "rank_preserving",
]

_CHUNK = 1 << 22  # elements per chunk of temporaries


@dataclass(frozen=True)
class PairCounts:
    """Pixel pairs by class; the five classes sum to ``total``."""

    total: int
    concordant: int
    discordant: int
    ties_broken: int
    ties_created: int
    ties_kept: int


@dataclass(frozen=True)
class RankDiff:
    """How `after` orders the pixels of each group compared with `before`.

    Spearman's ρ and Kendall's τ-b are computed per group; ``*_mean`` averages the groups
    where they are defined, ``*_min`` is the lowest and ``*_argmin`` the index of its group
    (over the axes outside the scope). ``undefined_groups`` have a constant before or after
    (or fewer than two pixels), where neither statistic exists.

    ``rank_preserving`` and ``strictly_rank_preserving`` are None when NaN pixels left no
    pair to compare (e.g. an all-NaN output): nothing says whether the order was kept.
    """

    scope: str | tuple[int, ...]
    axes: tuple[int, ...]
    groups: int
    pairs: PairCounts
    groups_with_inversions: int
    spearman_mean: float
    spearman_min: float
    spearman_argmin: tuple[int, ...] | None
    kendall_mean: float
    kendall_min: float
    kendall_argmin: tuple[int, ...] | None
    undefined_groups: int
    nan_pixels: int
    rank_preserving: bool | None
    strictly_rank_preserving: bool | None


@dataclass(frozen=True, eq=False)
class _Sorted:
    """Each group's valid values in order, to rank any one pixel by binary search (the
    before values of a group are sorted on its first look-up)."""

    layout: _Layout
    before: np.ndarray  # (G, n) grouped rows
    after: np.ndarray
    valid: np.ndarray  # (G,) valid pixels per group: the first ones of each sorted row
    after_order: np.ndarray  # (G, n) sorted valid values, or the engine's sorted keys
    keyed: bool  # after_order holds `after_key << 32 | index`, sorted by after
    before_sorted: dict[int, np.ndarray] = field(default_factory=dict)

    def ranks(self, row: int, pos: int) -> tuple[float, float]:
        x, y = self.before[row, pos], self.after[row, pos]
        if np.isnan(x) or np.isnan(y):
            return math.nan, math.nan
        if row not in self.before_sorted:
            b, a = self.before[row], self.after[row]
            valid = b[~np.isnan(a)] if a.dtype.kind == "f" else b
            self.before_sorted[row] = np.sort(valid, kind=_sort_kind(valid))  # NaN last
        m = int(self.valid[row])
        return _average_rank(self.before_sorted[row][:m], x), self._after_rank(row, m, y)

    def _after_rank(self, row: int, m: int, y: float) -> float:
        order = self.after_order[row, :m]
        if not self.keyed:
            return _average_rank(order, y)
        key = _key32(np.array([y]))
        assert key is not None
        k = int(key[0][0])
        lo = int(np.searchsorted(order, np.uint64(k) << np.uint64(32)))
        hi = (
            m if k == 0xFFFFFFFF else int(np.searchsorted(order, np.uint64(k + 1) << np.uint64(32)))
        )
        # keys equal in their float32 part: compare the exact values of that run
        run = self.after[row, (order[lo:hi] & np.uint64(0xFFFFFFFF)).astype(np.intp)]
        below, equal = lo + np.count_nonzero(run < y), np.count_nonzero(run == y)
        return below + (equal + 1) / 2.0


def _average_rank(ordered: np.ndarray, value: float) -> float:
    """1-based average rank of `value` among the sorted `ordered` (ties share a rank)."""
    left, right = np.searchsorted(ordered, value, "left"), np.searchsorted(ordered, value, "right")
    return (left + right + 1) / 2.0


@dataclass(frozen=True, eq=False)
class RankMaps:
    """Per-pixel pictures of a rank diff, in the arrays' own shape.

    Attributes
    ----------
    displacement : ndarray of float32
        (rank after − rank before) / group size, average ranks for ties; 0 everywhere when
        the normalization is strictly rank-preserving, 0 for NaN pixels.
    partners : ndarray of int32
        How many pixels of its group each pixel changed order with (discordant partners);
        int64 for groups of 2**31 pixels or more.
    group_size : ndarray of int64
        The number of valid pixels in each pixel's group (a read-only broadcast view).
    """

    displacement: np.ndarray
    partners: np.ndarray
    group_size: np.ndarray
    _sorted: _Sorted

    def ranks_at(self, index: int | tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Average ranks (1-based) of the pixels at `index` in their group, before and after.

        `index` takes integers for the leading axes, like numpy; the ranks come back in the
        shape of the axes left over. NaN pixels have NaN ranks. Each rank is a binary search
        in the group's sorted values, so no rank map is kept in memory.

        Examples
        --------
        >>> x = np.array([[1, 2, 2], [3, 0, 5]], np.uint8)
        >>> m = rank_maps(x, -1.0 * x, scope="row", roles="HW")
        >>> m.ranks_at((0, 1))
        (array(2.5), array(1.5))
        >>> m.ranks_at(1)[0]
        array([2., 1., 3.])
        """
        index = index if isinstance(index, tuple) else (index,)
        shape = self.displacement.shape
        rest = shape[len(index) :]
        lay = self._sorted.layout
        scope_shape = tuple(shape[i] for i in lay.axes)
        before, after = np.empty(rest), np.empty(rest)
        for tail in np.ndindex(rest):
            where = tuple(int(i) % d for i, d in zip(index + tail, shape, strict=True))
            kept = tuple(where[i] for i in range(len(shape)) if i not in lay.axes)
            row = int(np.ravel_multi_index(kept, lay.kept_shape)) if kept else 0
            pos = int(np.ravel_multi_index(tuple(where[i] for i in lay.axes), scope_shape))
            before[tail], after[tail] = self._sorted.ranks(row, pos)
        return before, after


@dataclass(frozen=True)
class Diagnosis:
    """Where ranks are kept: one verdict per standard scope (None where it does not fit, or
    where NaN pixels leave no pair to compare)."""

    preserved: dict[str, bool | None]
    images_with_inversions: int | None
    worst_image: int | None

    def summary(self) -> str:
        """One line, e.g. ``"column ✓  row ✗  image ✗"``."""
        words = {"all": "whole image" if self.preserved.get("image") is None else "whole array"}
        return "  ".join(
            f"{words.get(s, s)} {'✓' if ok else '✗'}"
            for s, ok in self.preserved.items()
            if ok is not None
        )


# --- layout ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """How an array was laid out as (groups, pixels) rows, and the way back."""

    shape: tuple[int, ...]
    axes: tuple[int, ...]  # the scope's axes: one group per index over the others
    kept_shape: tuple[int, ...]
    order: tuple[int, ...]  # kept axes, then scope axes

    def ungroup(self, rows: np.ndarray) -> np.ndarray:
        transposed = tuple(self.shape[i] for i in self.order)
        return np.transpose(rows.reshape(transposed), np.argsort(self.order))


def _as_groups(
    before: np.ndarray,
    after: np.ndarray,
    scope: Scope,
    roles: str | None,
    *,
    contiguous: bool = True,
) -> tuple[np.ndarray, np.ndarray, _Layout]:
    """Both arrays as (groups, pixels) rows (views where the strides allow, unless
    `contiguous`), and how they were laid out."""
    b, a = np.asarray(before), np.asarray(after)
    if b.shape != a.shape:
        raise ValueError(f"before {b.shape} and after {a.shape} must have the same shape")
    for name, v in (("before", b), ("after", a)):
        if v.dtype.kind not in "uifb":
            raise TypeError(f"{name} has dtype {v.dtype}; a rank diff needs real numbers")
    layout = _layout(b.shape, scope, roles)
    g, n = math.prod(layout.kept_shape), math.prod(b.shape[i] for i in layout.axes)
    rows = [np.reshape(np.transpose(v, layout.order), (g, n)) for v in (b, a)]
    if contiguous:
        rows = [np.ascontiguousarray(v) for v in rows]
    return rows[0], rows[1], layout


def _layout(shape: tuple[int, ...], scope: Scope, roles: str | None) -> _Layout:
    """How an array of `shape` is laid out as (groups, pixels) rows for `scope`."""
    roles = infer_roles(shape) if roles is None else roles
    axes = scope_axes(scope, roles)
    if axes is None:
        raise ValueError(f"scope {scope!r} does not fit an array with roles {roles!r}")
    kept = tuple(i for i in range(len(shape)) if i not in axes)
    return _Layout(tuple(shape), axes, tuple(shape[i] for i in kept), kept + axes)


# --- ranks -------------------------------------------------------------------------------------


def _take(a: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    """``np.take_along_axis``, with plain indexing for the common single-group case."""
    if a.ndim == 2 and a.shape[0] == 1 == idx.shape[0] and axis == 1:
        return a[0][idx[0]][None]
    return np.take_along_axis(a, idx, axis=axis)


def _put(a: np.ndarray, idx: np.ndarray, values: np.ndarray, axis: int) -> None:
    """``np.put_along_axis``, with plain indexing for the common single-group case."""
    if a.ndim == 2 and a.shape[0] == 1 == idx.shape[0] and axis == 1:
        a[0][idx[0]] = values[0]
    else:
        np.put_along_axis(a, idx, values, axis=axis)


def _sort_kind(v: np.ndarray) -> str:
    """Radix sort (numpy's stable sort) for 8- and 16-bit integers, SIMD quicksort otherwise."""
    return "stable" if v.dtype.kind in "uib" and v.dtype.itemsize <= 2 else "quicksort"


def _codes(b: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Small integers (or bool) as unsigned codes ``b - lo`` (`b` itself when it already is).

    Bools are cast, never viewed: a bool's byte may be anything but 0 and 1 (the codes index
    the kernels' level tables)."""
    if lo == 0 and b.dtype.kind in "ub":
        return b.astype(np.uint8) if b.dtype.kind == "b" else b
    return _small(b.astype(np.int32) - lo, hi - lo)


def _small(levels: np.ndarray, top: int) -> np.ndarray:
    """Levels in the smallest unsigned dtype that holds `top`, so sorts can use radix."""
    for dtype in (np.uint8, np.uint16):
        if top <= np.iinfo(dtype).max:
            return levels.astype(dtype)
    return levels


@dataclass(frozen=True, eq=False)
class _Ranks:
    dense: np.ndarray  # (G, n) int64 dense level, invalid pixels at level `levels`
    average: np.ndarray  # (G, n) float64 1-based average rank among valid pixels
    ties: np.ndarray  # (G,) int64 pairs of valid pixels with equal values
    levels: int  # number of dense levels used by valid pixels (max over groups)
    order: np.ndarray | None = None  # (G, n) the sorting permutation, when one was made


def _count_rank_rows(v: np.ndarray, valid: np.ndarray | None) -> _Ranks | None:
    """Ranks of small-integer rows by counting, O(n): None when the level table would be large."""
    g, n = v.shape
    if n == 0 or v.dtype.kind not in "uib" or v.dtype.itemsize > 2:
        return None
    lo = int(v.min())
    k = int(v.max()) - lo + 1
    if g * (k + 1) > _CHUNK * 4:
        return None
    codes = v.astype(np.int64) - lo
    if valid is not None:
        codes[~valid] = k  # invalid pixels: a level of their own, above all others
    counts = np.bincount(
        (np.arange(g)[:, None] * (k + 1) + codes).ravel(), minlength=g * (k + 1)
    ).reshape(g, k + 1)
    counts[:, k] = 0
    present = counts > 0
    levels = int(present.sum(axis=1).max())
    dense_table = np.cumsum(present, axis=1) - 1
    dense_table[:, k] = levels
    below = np.cumsum(counts, axis=1) - counts
    average_table = below + (counts + 1) / 2.0
    ties = (counts * (counts - 1) // 2).sum(axis=1)
    dense = _take(dense_table, codes, axis=1)
    average = _take(average_table, codes, axis=1)
    return _Ranks(dense, average, ties.astype(np.int64), levels)


def _runs(
    s: np.ndarray, same: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Runs of equal values along each row of the row-sorted `s`.

    Returns the flat index where each run starts, its length, and its row. `same` marks
    neighbours to join although unequal (NaN next to NaN).
    """
    g, n = s.shape
    new = np.ones((g, n), bool)
    if n > 1:
        np.not_equal(s[:, 1:], s[:, :-1], out=new[:, 1:])
        if same is not None:
            new[:, 1:] &= ~same
    starts = np.flatnonzero(new)
    lengths = np.diff(np.append(starts, g * n))
    return starts, lengths, starts // max(n, 1)


def _rank_rows(v: np.ndarray, valid: np.ndarray | None) -> _Ranks:
    counted = _count_rank_rows(v, valid)
    if counted is not None:
        return counted
    g, n = v.shape
    if valid is not None:
        v = np.where(valid, v.astype(np.float64, copy=False), np.nan)
    if v.dtype.kind == "b":
        v = v.view(np.uint8)
    perm = np.argsort(v, axis=1, kind=_sort_kind(v))  # NaN last
    sv = _take(v, perm, axis=1)
    nan = np.isnan(sv) if v.dtype.kind == "f" else None
    both_nan = None if nan is None else nan[:, 1:] & nan[:, :-1]
    starts, lengths, rows = _runs(sv, both_nan)
    valid_run = np.ones(len(starts), bool) if nan is None else ~nan.ravel()[starts]
    first_run = np.searchsorted(rows, np.arange(g))
    dense_run = np.arange(len(starts)) - first_run[rows]
    levels = int(dense_run[valid_run].max()) + 1 if valid_run.any() else 0
    dense_run[~valid_run] = levels  # invalid pixels: one level above all others
    average_run = (starts - rows * n) + (lengths + 1) / 2.0
    ties = np.bincount(
        rows, weights=(lengths * (lengths - 1) // 2) * valid_run, minlength=g
    ).astype(np.int64)
    dense = np.empty((g, n), np.int64)
    average = np.empty((g, n), np.float64)
    _put(dense, perm, np.repeat(dense_run, lengths).reshape(g, n), axis=1)
    _put(average, perm, np.repeat(average_run, lengths).reshape(g, n), axis=1)
    return _Ranks(dense, average, ties, levels, perm)


# --- inversions --------------------------------------------------------------------------------


def _earlier_greater(seq: np.ndarray, levels: int) -> np.ndarray:
    """For each position of each row, how many earlier entries of the row are strictly greater.

    `seq` holds int levels in ``[0, levels]``. Block histograms give the count from earlier
    blocks; a brute-force comparison gives it inside a block.
    """
    g, n = seq.shape
    if n == 0 or g == 0:
        return np.zeros((g, n), np.int64)
    k = levels + 2  # one more level for the padding, which goes at the end of each row
    block = int(min(max(8, 2 ** math.ceil(math.log2(math.sqrt(8 * k)))), 256, max(n, 1)))
    nb = -(-n // block)
    count = np.int32 if n < 2**31 else np.int64
    padded = np.full((g, nb * block), k - 1, np.uint8 if k <= 256 else np.int64)
    padded[:, :n] = seq
    blocks = padded.reshape(g, nb, block)
    out = np.empty((g, nb, block), np.int64)
    lower = np.tril(np.ones((block, block), bool), -1)  # [i, j]: j earlier than i
    rows_per_chunk = max(1, _CHUNK // (nb * (k + block * block)))
    blocks_per_chunk = max(1, _CHUNK // (k + block * block))
    for r0 in range(0, g, rows_per_chunk):
        rows = blocks[r0 : r0 + rows_per_chunk]
        nr = rows.shape[0]
        seen = np.zeros((nr, k), count)  # per row: counts of each level so far
        for b0 in range(0, nb, blocks_per_chunk):
            part = rows[:, b0 : b0 + blocks_per_chunk]  # (nr, m, block)
            m = part.shape[1]
            flat = (np.arange(nr * m)[:, None] * k + part.reshape(nr * m, block)).ravel()
            hist = np.bincount(flat, minlength=nr * m * k).astype(count).reshape(nr, m, k)
            before = np.cumsum(hist, axis=1, dtype=count) - hist + seen[:, None, :]
            seen += hist.sum(axis=1, dtype=count)
            at_or_below = np.cumsum(before, axis=2, dtype=count)
            greater = at_or_below[:, :, -1:] - at_or_below
            counts = greater.reshape(-1)[flat].reshape(nr, m, block)  # same flat index
            inside = (part[:, :, None, :] > part[:, :, :, None]) & lower
            out[r0 : r0 + nr, b0 : b0 + m] = counts + inside.sum(axis=3)
    return out.reshape(g, nb * block)[:, :n]


def _discordant(
    x: _Ranks, y: _Ranks, valid: np.ndarray | None, per_pixel: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Per group: discordant pairs and pairs tied in both; per pixel: discordant partners."""
    if y.levels < x.levels:
        x, y = y, x  # the sequence takes the array with fewer levels: cheaper blocks
    g, n = x.dense.shape
    # order by after, ties by before; equal keys are equal pixels, whose order does not matter
    if y.order is not None:  # y is sorted already: only its tie runs need ordering by x
        key = _take(y.dense, y.order, axis=1) * (x.levels + 1) + _take(x.dense, y.order, axis=1)
        sub = np.argsort(key, axis=1, kind="stable")  # timsort: nearly sorted already
        perm = _take(y.order, sub, axis=1)
        key = _take(key, sub, axis=1)
    else:
        key = y.dense * (x.levels + 1) + x.dense
        perm = np.argsort(key, axis=1)
        key = _take(key, perm, axis=1)
    starts, lengths, rows = _runs(key)
    pairs = lengths * (lengths - 1) // 2
    if valid is not None:  # invalid pixels share the top levels but tie with nothing
        pairs = pairs * _take(valid, perm, axis=1).ravel()[starts]
    kept = np.bincount(rows, weights=pairs, minlength=g).astype(np.int64)
    seq = _take(x.dense, perm, axis=1)
    left = _earlier_greater(seq, x.levels)
    per_group = left.sum(axis=1)
    if not per_pixel:
        return per_group, kept, None
    # later-and-smaller = smaller-in-row - earlier-smaller, with
    # earlier-smaller = position - earlier-greater - earlier-equal
    level_order = np.argsort(_small(seq, x.levels), axis=1, kind="stable")
    sorted_levels = _take(seq, level_order, axis=1)
    new = np.ones((g, n), bool)
    if n > 1:
        np.not_equal(sorted_levels[:, 1:], sorted_levels[:, :-1], out=new[:, 1:])
    idx = np.broadcast_to(np.arange(n), (g, n))
    start = np.maximum.accumulate(np.where(new, idx, 0), axis=1)
    smaller_sorted = start  # entries of the row below this level
    equal_before_sorted = idx - start  # same level, earlier in the row (stable order)
    smaller = np.empty((g, n), np.int64)
    equal_before = np.empty((g, n), np.int64)
    _put(smaller, level_order, smaller_sorted, axis=1)
    _put(equal_before, level_order, equal_before_sorted, axis=1)
    earlier_smaller = idx - left - equal_before
    right = smaller - earlier_smaller
    partners_sorted = left + right
    partners = np.empty((g, n), np.int64)
    _put(partners, perm, partners_sorted, axis=1)
    return per_group, kept, partners


# --- the compiled engine -----------------------------------------------------------------------

Engine = Literal["auto", "compiled", "numpy"]


@dataclass(frozen=True, eq=False)
class _Counts:
    """Per group (G,): valid pixels, discordant pairs, ties of before, of after and of both,
    and the Spearman sums; when maps were asked for, per pixel (G, n) the discordant partners
    and the rank displacement, and per row the valid after values in order (see _Sorted)."""

    valid: np.ndarray
    discordant: np.ndarray
    ties_x: np.ndarray
    ties_y: np.ndarray
    kept: np.ndarray
    sxy: np.ndarray
    sxx: np.ndarray
    syy: np.ndarray
    nan_pixels: int
    partners: np.ndarray | None = None  # maps only
    displacement: np.ndarray | None = None
    after_order: np.ndarray | None = None  # see _Sorted
    keyed: bool = False


def _raw32(v: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray | None] | None:
    """A uint32 per value that orders like the values, or (with the flag) the raw float32
    bits, still to be made order-preserving; and the exact values where float32 may merge
    distinct ones (float64 data). None for integers too wide for float64."""
    if v.dtype.kind == "b":
        return v.astype(np.uint32), False, None
    if v.dtype.kind in "ui" and v.dtype.itemsize <= 4:
        if v.dtype.kind == "u":
            return v.astype(np.uint32), False, None
        return v.astype(np.int32).view(np.uint32) ^ np.uint32(1 << 31), False, None
    exact = None
    if v.dtype.kind in "ui" or v.dtype.itemsize > 4:
        if v.dtype.kind in "ui" and v.size and max(abs(int(v.min())), abs(int(v.max()))) > 2**53:
            return None
        exact = v.astype(np.float64, copy=False)
    with np.errstate(over="ignore"):  # beyond float32: an infinite key, the exact value decides
        return v.astype(np.float32).view(np.uint32), True, exact


def _key32(v: np.ndarray) -> tuple[np.ndarray, np.ndarray | None] | None:
    """An order-preserving uint32 key per value (equal values, equal keys), and the exact
    values where the key may merge distinct ones; None for integers too wide for float64."""
    raw = _raw32(v)
    if raw is None:
        return None
    bits, is_float, exact = raw
    if is_float:
        bits = np.where(bits == np.uint32(1 << 31), np.uint32(0), bits)  # -0.0 is +0.0
        bits ^= (bits.view(np.int32) >> 31).view(np.uint32) | np.uint32(1 << 31)
    return bits, exact


def _before_levels(b: np.ndarray, kernels) -> tuple[np.ndarray, int] | None:
    """Each pixel's before value as an integer level (equal values, equal level), and the
    number of levels: the values themselves for small integers, else dense levels of a sort."""
    g, n = b.shape
    if b.dtype.kind in "uib" and b.dtype.itemsize <= 2:
        lo, hi = int(b.min()), int(b.max())
        if hi - lo < 4 * n:  # a level table per group is cheap next to the group
            return _codes(b, lo, hi), hi - lo + 1
    before = _key32(b)
    if before is None:
        return None
    key, exact = before
    if exact is None:  # the key is exact: one sort of (key, index)
        s = np.sort((key.astype(np.uint64) << np.uint64(32)) | np.arange(n, dtype=np.uint64))
        del key
        order, equal = (s & np.uint64(0xFFFFFFFF)).astype(np.int64), s >> np.uint64(32)
    else:  # float64, or wide integers as float64
        del key
        order = np.argsort(exact, axis=1, kind="stable")
        equal = _take(exact, order, axis=1)
    levels = np.empty((g, n), np.int32)
    kernels.dense_levels(order, equal, levels)
    # the levels used, not n: the scan keeps four int64 tables of this size per thread
    return levels, int(levels.max()) + 1


def _compiled_counts(
    b: np.ndarray, a: np.ndarray, valid: np.ndarray | None, maps: bool
) -> _Counts | None:
    """Everything from one sort of uint64 keys per row plus compiled linear passes; None when
    numba is missing or the data does not suit (the numpy engine then runs)."""
    kernels = _engine.kernels()
    g, n = b.shape
    usable = kernels is not None and 0 < g * n and n < 2**30
    if usable and not maps:
        by_level = _counts_by_level(b, a)
        if by_level is not None:
            return by_level
    before = _before_levels(b, kernels) if usable else None
    after = None if before is None else _raw32(a)  # after the levels: their sort's peak is apart
    if after is None:
        return None
    a_bits, a_float, exact = after
    if valid is not None and not a_float and (a_bits[valid] == 0xFFFFFFFF).any():
        return None  # a valid top key would tie with the NaN pixels' key
    levels, k = before
    check = valid is not None
    mask = valid if check else np.ones((1, 1), bool)
    keys = np.empty((g, n), np.uint64)
    kernels.joint_keys(a_bits, a_float, mask, check, keys)
    del a_bits, after
    if g == 1 and n >= 1 << 20 and _engine.threads() > 1:  # one big row: sort halves, merge
        half = n // 2
        _engine.in_parts(lambda a, b: keys[0, a:b].sort(), [(0, half), (half, n)])
        # merged in place from a copy of the first half: the output never overtakes the
        # second half's next key, so a buffer of half the row suffices
        kernels.merge(keys[0, :half].copy(), keys[0, half:], keys[0])
    else:
        _engine.in_parts(lambda r0, r1, *_: keys[r0:r1].sort(axis=1), _engine.row_parts(g))
    use_exact = exact is not None
    values = exact if use_exact else np.empty((1, 1))
    # both maps in one buffer: each pixel's partners (int32) then its shift (float32)
    both = (np.zeros if check else np.empty)((g, n, 2) if maps else (1, 1, 2), np.uint32)
    packed = both.view(np.uint64).reshape(both.shape[:2])
    parts = _engine.row_parts(g) if g > 1 else _cut_row(keys[0])
    totals = [(np.zeros((g, 5), np.int64), np.zeros((g, 3))) for _ in parts]

    def scan(i: int, part: tuple[int, int, int, int]) -> None:
        kernels.scan(
            keys, levels, k, mask, check, values, use_exact, maps, packed, *totals[i], part
        )

    _engine.in_parts(scan, list(enumerate(parts)))
    counts = sum(c for c, _ in totals)
    sums = sum(s for _, s in totals)
    partners = displacement = None
    if maps:
        partners, displacement = both[..., 0].view(np.int32), both[..., 1].view(np.float32)
    return _Counts(
        valid=counts[:, 0],
        discordant=counts[:, 1],
        ties_x=counts[:, 2],
        ties_y=counts[:, 3],
        kept=counts[:, 4],
        sxy=sums[:, 0],
        sxx=sums[:, 1],
        syy=sums[:, 2],
        nan_pixels=int(g * n - counts[:, 0].sum()),
        partners=partners,
        displacement=displacement,
        after_order=keys if maps else None,
        keyed=True,
    )


def _counts_by_level(b: np.ndarray, a: np.ndarray) -> _Counts | None:
    """The counts without maps from buckets of before levels (see :mod:`core._bylevel`), for
    a few big groups of small integers whose after values are exact in float64; else None."""
    from normscope.core import _bylevel

    g, n = b.shape
    if n < _bylevel.MIN_PIXELS or b.dtype.kind not in "uib" or b.dtype.itemsize > 2:
        return None
    if a.dtype.kind not in "biuf" or a.dtype.itemsize > (8 if a.dtype.kind == "f" else 4):
        return None
    if a.dtype.kind == "f" and a.dtype.itemsize < 4:
        a = a.astype(np.float32)  # exact; numba has no float16
    # a bool's byte may be anything but 0 and 1: its levels index the kernels' tables
    b, a = ((v.view(np.uint8) != 0).view(np.uint8) if v.dtype.kind == "b" else v for v in (b, a))
    lo, hi = int(b.min()), int(b.max())
    if g * (hi - lo + 1) > 1 << 16:  # a sort per level and group: not for many groups
        return None
    found = _bylevel.counts_by_level(_codes(b, lo, hi), hi - lo + 1, a)
    if found is None:
        return None
    counts, sums = found
    return _Counts(
        valid=counts[:, 0],
        discordant=counts[:, 1],
        ties_x=counts[:, 2],
        ties_y=counts[:, 3],
        kept=counts[:, 4],
        sxy=sums[:, 0],
        sxx=sums[:, 1],
        syy=sums[:, 2],
        nan_pixels=int(g * n - counts[:, 0].sum()),
    )


def _cut_row(keys: np.ndarray) -> list[tuple[int, int, int, int]]:
    """One sorted row of keys split into ranges of sorted positions, one per thread, each cut
    where the after key changes: ``(0, 1, t0, t1)``."""
    n = len(keys)
    cuts = [0]
    parts = _engine.threads() if n >= 1 << 16 else 1
    for i in range(1, parts):
        high = int(keys[n * i // parts]) >> 32
        cut = n if high == 0xFFFFFFFF else int(np.searchsorted(keys, np.uint64(high + 1) << 32))
        cuts.append(max(cut, cuts[-1]))
    cuts.append(n)
    return [(0, 1, a, b) for a, b in itertools.pairwise(cuts)]


def _numpy_counts(b: np.ndarray, a: np.ndarray, valid: np.ndarray | None, maps: bool) -> _Counts:
    """The same counts in plain numpy: stable sorts, run lengths and block histograms."""
    x, y = _rank_rows(b, valid), _rank_rows(a, valid)
    discordant, kept, partners = _discordant(x, y, valid, per_pixel=maps)
    g, n = b.shape
    counts = np.full(g, n, np.int64) if valid is None else valid.sum(axis=1)
    ok = np.ones((g, n), bool) if valid is None else valid
    mean = ((counts + 1) / 2.0)[:, None]
    dx, dy = (x.average - mean) * ok, (y.average - mean) * ok
    shift = sorted_after = None
    if maps:
        assert partners is not None
        partners = partners.astype(np.int32) if n < 2**31 else partners
        with np.errstate(invalid="ignore", divide="ignore"):
            shift = (y.average - x.average) / np.maximum(counts, 1)[:, None]
        if valid is not None:
            shift[~valid] = 0.0
        shift = shift.astype(np.float32)
        sorted_after = np.sort(a if valid is None else np.where(valid, a, np.nan), axis=1)
    return _Counts(
        valid=counts,
        discordant=discordant,
        ties_x=x.ties,
        ties_y=y.ties,
        kept=kept,
        sxy=(dx * dy).sum(axis=1),
        sxx=(dx * dx).sum(axis=1),
        syy=(dy * dy).sum(axis=1),
        nan_pixels=int(g * n - counts.sum()),
        partners=partners,
        displacement=shift,
        after_order=sorted_after,
    )


def _counts(b: np.ndarray, a: np.ndarray, maps: bool, engine: Engine) -> _Counts:
    if engine not in ("auto", "compiled", "numpy"):
        raise ValueError(f"engine must be 'auto', 'compiled' or 'numpy', not {engine!r}")
    valid = None
    if b.dtype.kind == "f" or a.dtype.kind == "f":
        mask = np.ones(b.shape, bool)
        for v in (b, a):
            if v.dtype.kind == "f":
                mask &= ~np.isnan(v)
        valid = None if mask.all() else mask
        del mask
    if engine != "numpy":
        fast = _compiled_counts(b, a, valid, maps)
        if fast is not None:
            return fast
        if engine == "compiled" and _engine.kernels() is None:
            raise ImportError("engine='compiled' needs numba, which is not installed")
    return _numpy_counts(b, a, valid, maps)


# --- the diff ----------------------------------------------------------------------------------


def _stat(values: np.ndarray, kept_shape: tuple[int, ...]) -> tuple[float, float, tuple | None]:
    ok = ~np.isnan(values)
    if not ok.any():
        return math.nan, math.nan, None
    i = int(np.nanargmin(values))
    where = tuple(int(v) for v in np.unravel_index(i, kept_shape)) if kept_shape else ()
    return float(values[ok].mean()), float(values[i]), where


def rank_diff(
    before: np.ndarray,
    after: np.ndarray,
    *,
    scope: Scope = "all",
    roles: str | None = None,
    engine: Engine = "auto",
) -> RankDiff:
    """Compare the pixel order of `after` with that of `before`, pair by pair, per group.

    Parameters
    ----------
    before, after : ndarray
        Arrays of one shape, any real dtype. NaN pixels (in either) are left out of every pair.
    scope : {"all", "image", "channel", "row", "column"} or tuple of int
        Which pixels are compared with each other; see :func:`core.roles.scope_axes`.
    roles : str, optional
        Axis roles such as ``"NHW"``; inferred from the shape when omitted.
    engine : {"auto", "compiled", "numpy"}
        ``"compiled"`` runs numba loops after one sort of uint64 keys per group (about 10x
        faster; it hands integers beyond 2**53 and groups of 2**30 pixels or more to numpy,
        and raises ImportError without numba); ``"numpy"`` plain numpy; ``"auto"`` the
        compiled engine when numba is installed. Both give the same counts and maps.

    Returns
    -------
    RankDiff
        Exact pair counts summed over groups, per-group Spearman ρ and Kendall τ-b
        (mean, minimum, where), and the verdicts.

    Notes
    -----
    ``rank_preserving`` holds when, within every group, `after` is a non-decreasing function
    of `before` (no discordant pair and no broken tie); clipping and rounding create ties,
    which it allows. ``strictly_rank_preserving`` allows no created tie either.

    Examples
    --------
    The tutorial's call, Keras ``normalize(x, axis=1)``, on a 2x2 image:

    >>> x = np.array([[[1, 10], [0, 10]]], np.uint8)
    >>> y = x / np.linalg.norm(x, 2, axis=1, keepdims=True)
    >>> d = rank_diff(x, y, scope="image", roles="NHW")
    >>> d.pairs.discordant, d.pairs.total, d.rank_preserving
    (2, 6, False)
    >>> rank_diff(x, y, scope="column", roles="NHW").rank_preserving
    True
    """
    b, a, layout = _as_groups(canonical(before), canonical(after), scope, roles)
    return _diff(_counts(b, a, False, engine), layout, scope)


def _diff(c: _Counts, layout: _Layout, scope: Scope) -> RankDiff:
    n = c.valid
    total = n * (n - 1) // 2
    broken = c.ties_x - c.kept
    created = c.ties_y - c.kept
    concordant = total - c.discordant - broken - created - c.kept
    with np.errstate(invalid="ignore", divide="ignore"):
        tau = (concordant - c.discordant) / np.sqrt(
            (total - c.ties_x).astype(np.float64) * (total - c.ties_y)
        )
        rho = c.sxy / np.sqrt(c.sxx * c.syy)
    undefined = ~np.isfinite(tau) | ~np.isfinite(rho)
    tau[undefined] = np.nan
    rho[undefined] = np.nan
    s_mean, s_min, s_arg = _stat(rho, layout.kept_shape)
    k_mean, k_min, k_arg = _stat(tau, layout.kept_shape)
    counts = PairCounts(
        total=int(total.sum()),
        concordant=int(concordant.sum()),
        discordant=int(c.discordant.sum()),
        ties_broken=int(broken.sum()),
        ties_created=int(created.sum()),
        ties_kept=int(c.kept.sum()),
    )
    comparable = counts.total > 0 or c.nan_pixels == 0
    preserving = (counts.discordant == 0 and counts.ties_broken == 0) if comparable else None
    return RankDiff(
        scope=scope if isinstance(scope, str) else tuple(layout.axes),
        axes=layout.axes,
        groups=len(n),
        pairs=counts,
        groups_with_inversions=int(np.count_nonzero(c.discordant)),
        spearman_mean=s_mean,
        spearman_min=s_min,
        spearman_argmin=s_arg,
        kendall_mean=k_mean,
        kendall_min=k_min,
        kendall_argmin=k_arg,
        undefined_groups=int(np.count_nonzero(undefined)),
        nan_pixels=c.nan_pixels,
        rank_preserving=preserving,
        strictly_rank_preserving=(preserving and counts.ties_created == 0) if comparable else None,
    )


def rank_maps(
    before: np.ndarray,
    after: np.ndarray,
    *,
    scope: Scope = "all",
    roles: str | None = None,
    engine: Engine = "auto",
) -> RankMaps:
    """Per-pixel rank displacement and count of discordant partners, within `scope`.

    Parameters are those of :func:`rank_diff`.

    Examples
    --------
    >>> x = np.array([[1, 2, 3, 4]], np.uint8)
    >>> m = rank_maps(x, np.array([[1.0, 2.0, 4.0, 3.0]]), scope="row", roles="HW")
    >>> m.displacement.tolist(), m.partners.tolist()
    ([[0.0, 0.0, 0.25, -0.25]], [[0, 0, 1, 1]])
    """
    b, a, layout = _as_groups(canonical(before), canonical(after), scope, roles)
    return _maps(_counts(b, a, True, engine), b, a, layout)


def rank_compare(
    before: np.ndarray,
    after: np.ndarray,
    *,
    scope: Scope = "all",
    roles: str | None = None,
    engine: Engine = "auto",
) -> tuple[RankDiff, RankMaps]:
    """:func:`rank_diff` and :func:`rank_maps` together, sharing every sort (about half the time).

    Examples
    --------
    >>> x = np.array([[1, 2, 3, 4]], np.uint8)
    >>> diff, maps = rank_compare(x, np.array([[1.0, 2.0, 4.0, 3.0]]))
    >>> diff.pairs.discordant, maps.partners.tolist()
    (1, [[0, 0, 1, 1]])
    """
    b, a, layout = _as_groups(canonical(before), canonical(after), scope, roles)
    c = _counts(b, a, True, engine)
    return _diff(c, layout, scope), _maps(c, b, a, layout)


def _maps(c: _Counts, b: np.ndarray, a: np.ndarray, layout: _Layout) -> RankMaps:
    assert c.partners is not None and c.displacement is not None and c.after_order is not None
    sizes = np.expand_dims(c.valid.reshape(layout.kept_shape), layout.axes)
    return RankMaps(
        displacement=layout.ungroup(c.displacement),
        partners=layout.ungroup(c.partners),
        group_size=np.broadcast_to(sizes, layout.shape),
        _sorted=_Sorted(layout, b, a, c.valid, c.after_order, c.keyed),
    )


def _monotone_rows(b: np.ndarray, a: np.ndarray) -> np.ndarray | None:
    """Per row: is `a` a non-decreasing function of `b`? O(n) by a level table.

    Only for small-integer `b` and NaN-free `a`; None otherwise (the caller then counts pairs).
    A function of `b` has no broken tie; a non-decreasing one has no discordant pair. With
    numba, one compiled pass (:func:`core._kernels.monotone`); in numpy, chunks of about a
    million values, so no single numpy call holds the GIL for long.
    """
    g, n = b.shape
    if n == 0 or b.dtype.kind not in "uib" or b.dtype.itemsize > 2:
        return None
    if a.dtype.kind == "f" and np.isnan(a).any():
        return None
    lo = int(b.min())
    k = int(b.max()) - lo + 1
    out = np.empty(g, bool)
    kernels = _engine.kernels()
    if kernels is not None:
        codes = _codes(b, lo, lo + k - 1)

        def check(r0: int, r1: int, *_: int) -> None:
            kernels.monotone(codes[r0:r1], k, a[r0:r1], out[r0:r1])

        _engine.in_parts(check, _engine.row_parts(g))
        return out
    rows_per = max(1, min(_CHUNK // n, _CHUNK // k))
    for r0 in range(0, g, rows_per):
        bb, aa = b[r0 : r0 + rows_per], a[r0 : r0 + rows_per]
        r = bb.shape[0]
        table = np.full((r, k), np.nan)
        function = np.ones(r, bool)
        for c0 in range(0, n, _CHUNK):  # splits only a row longer than a chunk
            codes = bb[:, c0 : c0 + _CHUNK].astype(np.int64) - lo
            key = (np.arange(r)[:, None] * k + codes).ravel()
            values = aa[:, c0 : c0 + _CHUNK].astype(np.float64).ravel()  # exact for any output
            part = np.full(r * k, np.nan)
            part[key] = values  # the last pixel of each level wins ...
            function &= (part[key] == values).reshape(r, -1).all(axis=1)  # ... and must equal all
            part = part.reshape(r, k)
            clash = ~np.isnan(part) & ~np.isnan(table) & (part != table)
            function &= ~clash.any(axis=1)
            table = np.where(np.isnan(table), part, table)
        rising = ((table == np.fmax.accumulate(table, axis=1)) | np.isnan(table)).all(axis=1)
        out[r0 : r0 + r] = function & rising
    return out


def rank_preserving(
    before: np.ndarray, after: np.ndarray, *, scope: Scope = "all", roles: str | None = None
) -> bool | None:
    """Whether `after` is a non-decreasing function of `before` within every group of `scope`.

    The same verdict as ``rank_diff(...).rank_preserving``, in O(n) without counting pairs when
    `before` holds 8- or 16-bit integers (the usual image data); None when NaN pixels leave
    no pair to compare.

    Examples
    --------
    >>> x = np.array([[1, 10], [0, 10]], np.uint8)
    >>> y = x / np.linalg.norm(x, 2, axis=0, keepdims=True)
    >>> rank_preserving(x, y, scope="column", roles="HW"), rank_preserving(x, y, roles="HW")
    (True, False)
    """
    before, after = canonical(before), canonical(after)
    b, a, _ = _as_groups(before, after, scope, roles, contiguous=False)
    fast = _monotone_rows(b, a)
    if fast is not None:
        return bool(fast.all())
    return rank_diff(before, after, scope=scope, roles=roles).rank_preserving


def image_chunks(
    shape: tuple[int, ...], roles: str, elements: int | None = None
) -> list[tuple[slice, ...]]:
    """Indices that cut an array of `shape` into chunks of whole images (along the N axis) of
    about `elements` values each, and at most a few million; one chunk, the whole array, when
    `roles` has no N axis.

    Examples
    --------
    >>> image_chunks((5, 2, 2), "NHW", elements=8)
    [(slice(0, 2, None),), (slice(2, 4, None),), (slice(4, 5, None),)]
    """
    if "N" not in roles:
        return [(slice(None),)]
    n_axis = roles.index("N")
    count = shape[n_axis]
    elements = _CHUNK if elements is None else min(elements, _CHUNK)
    per = max(1, elements // max(math.prod(shape) // max(count, 1), 1))
    lead = (slice(None),) * n_axis
    return [(*lead, slice(i, min(i + per, count))) for i in range(0, max(count, 1), per)]


_GROUP_FIELDS = ("valid", "discordant", "ties_x", "ties_y", "kept", "sxy", "sxx", "syy")


class RankTally:
    """A rank diff and a diagnosis of an array fed a chunk of whole images at a time, in order
    (see :func:`image_chunks`), so that its normalization need never be held whole.

    Parameters
    ----------
    shape : tuple of int
        The whole array's shape.
    roles : str
        Its axis roles.
    scope : str or tuple of int, optional
        The scope of :meth:`diff`; with more than one chunk it may not span the N axis.
        Without it, only :meth:`diagnosis` is made.

    Examples
    --------
    >>> x = np.array([[[1, 10], [0, 10]], [[3, 4], [5, 6]]], np.uint8)
    >>> y = x / np.linalg.norm(x, 2, axis=1, keepdims=True)
    >>> tally = RankTally(x.shape, "NHW", "row")
    >>> for chunk in image_chunks(x.shape, "NHW", elements=4):
    ...     tally.add(x[chunk], y[chunk])
    >>> tally.diff() == rank_diff(x, y, scope="row", roles="NHW")
    True
    >>> tally.diagnosis() == diagnose(x, y, roles="NHW")
    True
    """

    def __init__(self, shape: tuple[int, ...], roles: str, scope: Scope | None = None) -> None:
        self._shape, self._roles, self._scope = tuple(shape), roles, scope
        self._layout = None if scope is None else _layout(self._shape, scope, roles)
        self._counts: list[_Counts] = []
        self._images: list[int] = []  # images in each chunk
        self._fits = {s: scope_axes(s, roles) is not None for s in SCOPES}
        # per scope: False once a chunk flips a pair, True once one compares a pair without
        # flipping, None while every chunk so far had no pair to compare (NaN everywhere)
        self._preserved: dict[str, bool | None] = dict.fromkeys(SCOPES)
        self._flips: list[np.ndarray] = []
        self._pairs = self._nan_pixels = 0
        self._values: list[tuple[np.ndarray, np.ndarray]] = []  # for "all" across chunks

    def add(self, before: np.ndarray, after: np.ndarray) -> None:
        """Count the next chunk: `before` and its normalization `after`, whole images."""
        b, a = np.asarray(before), np.asarray(after)
        roles = self._roles
        counts = None
        if self._layout is not None:
            n_axis = roles.index("N") if "N" in roles else None
            if self._counts and (n_axis is None or n_axis in self._layout.axes):
                raise ValueError(f"scope {self._scope!r} spans the images: add one chunk only")
            counts = _counts(*_as_groups(b, a, self._scope, roles)[:2], False, "auto")
            self._counts.append(counts)
            self._images.append(1 if n_axis is None else b.shape[n_axis])
        parts = image_chunks(b.shape, roles)
        if self._fits["image"]:
            if counts is not None and self._scope == "image":  # the counts are per image
                flips = [_flips_of(counts)]
            else:
                flips = [_image_flips(b[p], a[p], roles) for p in parts]
            for flipped, broken, pairs, nan_pixels in flips:
                self._flips.append(flipped)
                self._pairs += pairs
                self._nan_pixels += nan_pixels
                if flipped.any() or broken.any():
                    self._preserved["image"] = self._preserved["all"] = False
                elif pairs:
                    self._preserved["image"] = _kept(self._preserved["image"], True)
        for scope in ("all", "channel", "row", "column"):
            for p in parts:
                if not self._fits[scope] or self._preserved[scope] is False:
                    break
                bp, ap = b[p], a[p]
                kept = rank_preserving(bp, ap, scope=scope, roles=roles)
                self._preserved[scope] = _kept(self._preserved[scope], kept)
                if scope == "all" and kept and bp.shape != self._shape:
                    self._values.append(_value_pairs(bp, ap))

    def diff(self) -> RankDiff:
        """The rank diff within the scope, over every chunk added."""
        layout = self._layout
        if layout is None:
            raise ValueError("a tally made without a scope has no rank diff")
        counts = self._counts[0]
        if len(self._counts) > 1:
            kept = layout.order[: len(layout.kept_shape)]
            pos = kept.index(self._roles.index("N"))

            def joined(name: str) -> np.ndarray:
                parts = []
                for c, images in zip(self._counts, self._images, strict=True):
                    shape = list(layout.kept_shape)
                    shape[pos] = images
                    parts.append(getattr(c, name).reshape(shape))
                return np.concatenate(parts, axis=pos).ravel()

            nan_pixels = sum(c.nan_pixels for c in self._counts)
            counts = _Counts(**{f: joined(f) for f in _GROUP_FIELDS}, nan_pixels=nan_pixels)
        return _diff(counts, layout, self._scope)

    def diagnosis(self) -> Diagnosis:
        """Where ranks are kept, over every chunk added (see :func:`diagnose`)."""
        preserved = dict(self._preserved)
        if preserved["all"] and self._values:
            preserved["all"] = _nondecreasing(self._values)
        if not self._fits["image"]:
            return Diagnosis(preserved, None, None)
        if preserved["image"] is None and not (self._pairs == 0 and self._nan_pixels > 0):
            preserved["image"] = True  # images of one pixel: nothing to flip
        per_image = np.concatenate(self._flips) if self._flips else np.zeros(0, np.int64)
        worst = int(np.argmax(per_image)) if per_image.any() else None
        return Diagnosis(preserved, int(np.count_nonzero(per_image)), worst)


def _kept(so_far: bool | None, chunk: bool | None) -> bool | None:
    """Whether ranks are kept over the chunks so far and one more: False once any chunk flips
    a pair; None while no chunk had a pair to compare."""
    if so_far is False or chunk is False:
        return False
    return True if so_far or chunk else None


def _image_flips(
    before: np.ndarray, after: np.ndarray, roles: str
) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Discordant pairs and broken ties of each image; the pairs compared and the NaN pixels
    left out, over all of them."""
    return _flips_of(_counts(*_as_groups(before, after, "image", roles)[:2], False, "auto"))


def _flips_of(c: _Counts) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Per-image flips of per-image counts, as :func:`_image_flips` gives them."""
    pairs = int((c.valid * (c.valid - 1) // 2).sum())
    return c.discordant, c.ties_x - c.kept, pairs, c.nan_pixels


def _value_pairs(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of `before`, each with the `after` value of one of its pixels (a
    chunk where `after` is a function of `before`); NaN pixels in either left out."""
    b, a = np.ravel(before), np.ravel(after)
    b = b.view(np.uint8) if b.dtype.kind == "b" else b
    nan = np.zeros(b.shape, bool)
    for v in (b, a):
        if v.dtype.kind == "f":
            nan |= np.isnan(v)
    if nan.any():
        b, a = b[~nan], a[~nan]
    values, first = np.unique(b, return_index=True)
    return values, a[first]


def _nondecreasing(pairs: list[tuple[np.ndarray, np.ndarray]]) -> bool:
    """Whether the (before, after) value pairs of all chunks make one non-decreasing function."""
    b = np.concatenate([p[0] for p in pairs])
    a = np.concatenate([p[1] for p in pairs])
    order = np.lexsort((a, b))
    b, a = b[order], a[order]
    same = b[1:] == b[:-1]
    return bool((a[1:] >= a[:-1]).all() and (a[1:][same] == a[:-1][same]).all())


def diagnose(before: np.ndarray, after: np.ndarray, *, roles: str) -> Diagnosis:
    """Check every standard scope that fits the array: where are ranks kept?

    For a batch (an N axis) it also counts the images with at least one flipped pair and
    names the worst one (the most discordant pairs). A batch is checked a chunk of images at
    a time (see :class:`RankTally`).

    Examples
    --------
    >>> x = np.array([[[1, 10], [0, 10]]], np.uint8)
    >>> y = x / np.linalg.norm(x, 2, axis=1, keepdims=True)
    >>> d = diagnose(x, y, roles="NHW")
    >>> d.summary()
    'whole array ✗  image ✗  row ✗  column ✓'
    >>> d.images_with_inversions, d.worst_image
    (1, 0)
    """
    tally = RankTally(np.shape(before), roles)
    tally.add(canonical(before), canonical(after))
    return tally.diagnosis()
