"""The rank diff's numpy engine: stable sorts, run lengths and block histograms.

It gets the same counts as the compiled engine (:mod:`core._rank_compiled`) without numba,
O(n·(K/B + B)) for K levels and blocks of B. :class:`_Counts` is what both engines return.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np

#: The sorts numpy offers that the engines use.
SortKind = Literal["stable", "quicksort"]

_CHUNK = 1 << 22  # elements per chunk of temporaries


def _take(a: np.ndarray, idx: np.ndarray, axis: int) -> np.ndarray:
    """``np.take_along_axis``, with plain indexing for the common single-group case."""
    if a.ndim == 2 and a.shape[0] == 1 == idx.shape[0] and axis == 1:
        return cast(np.ndarray, a[0][idx[0]][None])
    return np.take_along_axis(a, idx, axis=axis)


def _put(a: np.ndarray, idx: np.ndarray, values: np.ndarray, axis: int) -> None:
    """``np.put_along_axis``, with plain indexing for the common single-group case."""
    if a.ndim == 2 and a.shape[0] == 1 == idx.shape[0] and axis == 1:
        a[0][idx[0]] = values[0]
    else:
        np.put_along_axis(a, idx, values, axis=axis)


def _sort_kind(v: np.ndarray) -> SortKind:
    """Radix sort (numpy's stable sort) for 8- and 16-bit integers, SIMD quicksort otherwise."""
    return "stable" if v.dtype.kind in "uib" and v.dtype.itemsize <= 2 else "quicksort"


def _codes(b: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Small integers (or bool) as unsigned codes ``b - lo`` (`b` itself when it already is).

    Bools are cast, never viewed: a bool's byte may be anything but 0 and 1 (the codes index
    the kernels' level tables).
    """
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
            hist: np.ndarray = (
                np.bincount(flat, minlength=nr * m * k).astype(count).reshape(nr, m, k)
            )
            before = np.cumsum(hist, axis=1, dtype=count) - hist + seen[:, None, :]
            seen += hist.sum(axis=1, dtype=count)
            at_or_below: np.ndarray = np.cumsum(before, axis=2, dtype=count)
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


# --- what both engines count -------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class _Counts:
    """Per group (G,): valid pixels, discordant pairs, ties and the Spearman sums.

    The ties are of before, of after and of both. When maps were asked for, also per pixel (G, n)
    the discordant partners and the rank displacement, and per row the valid after values in order
    (see _Sorted).
    """

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
