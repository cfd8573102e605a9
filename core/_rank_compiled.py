"""The rank diff's compiled engine: one sort of uint64 keys per group, then numba passes.

Each pixel gets one key, ``after_key << 32 | index``; each group's keys are sorted with
numpy's SIMD sort and walked once by :func:`core._kernels.scan`: tie runs of after, a
Fenwick tree over the before levels (the values themselves for 8- and 16-bit data, else
dense levels from a sort) for the inversions and each pixel's discordant partners, average
ranks for Spearman. Float64 data is keyed by float32; where that merges distinct values the
run is re-sorted by the exact values, so the counts stay exact. Big groups are cut at key
changes and walked on two threads.
"""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any

import numpy as np

from normscope.core import engine as _engine
from normscope.core._rank_numpy import _codes, _Counts, _take


def _raw32(v: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray | None] | None:
    """A uint32 per value that orders like the values, or (with the flag) the raw float32 bits.

    The raw bits are still to be made order-preserving. Also the exact values where float32 may
    merge distinct ones (float64 data). None for integers too wide for float64.
    """
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
    """An order-preserving uint32 key per value (equal values, equal keys).

    Also the exact values where the key may merge distinct ones; None for integers too wide for
    float64.
    """
    raw = _raw32(v)
    if raw is None:
        return None
    bits, is_float, exact = raw
    if is_float:
        bits = np.where(bits == np.uint32(1 << 31), np.uint32(0), bits)  # -0.0 is +0.0
        bits ^= (bits.view(np.int32) >> 31).view(np.uint32) | np.uint32(1 << 31)
    return bits, exact


def _before_levels(b: np.ndarray, kernels: ModuleType) -> tuple[np.ndarray, int] | None:
    """Each pixel's before value as an integer level, and the number of levels.

    Equal values, equal level: the values themselves for small integers, else dense levels of a
    sort.
    """
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
    """Everything from one sort of uint64 keys per row plus compiled linear passes.

    None when numba is missing or the data does not suit (the numpy engine then runs).
    """
    kernels = _engine.kernels()
    g, n = b.shape
    if kernels is None or not (0 < g * n and n < 2**30):
        return None
    if not maps:
        by_level = _counts_by_level(b, a)
        if by_level is not None:
            return by_level
    before = _before_levels(b, kernels)
    after = None if before is None else _raw32(a)  # after the levels: their sort's peak is apart
    if before is None or after is None:
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
    counts = sum((c for c, _ in totals), np.zeros((g, 5), np.int64))
    sums = sum((s for _, s in totals), np.zeros((g, 3)))
    partners = displacement = None
    if maps:
        partners, displacement = both[..., 0].view(np.int32), both[..., 1].view(np.float32)
    return _from_tables(
        counts,
        sums,
        g * n,
        partners=partners,
        displacement=displacement,
        after_order=keys if maps else None,
        keyed=True,
    )


def _cut_row(keys: np.ndarray) -> list[tuple[int, int, int, int]]:
    """One sorted row of keys split into ranges of sorted positions, one per thread.

    Each range is cut where the after key changes: ``(0, 1, t0, t1)``.
    """
    n = len(keys)
    cuts = [0]
    parts = _engine.threads() if n >= 1 << 16 else 1
    for i in range(1, parts):
        high = int(keys[n * i // parts]) >> 32
        cut = n if high == 0xFFFFFFFF else int(np.searchsorted(keys, np.uint64(high + 1) << 32))
        cuts.append(max(cut, cuts[-1]))
    cuts.append(n)
    return [(0, 1, a, b) for a, b in itertools.pairwise(cuts)]


def _counts_by_level(b: np.ndarray, a: np.ndarray) -> _Counts | None:
    """The counts without maps from buckets of before levels (see :mod:`core._bylevel`).

    For a few big groups of small integers whose after values are exact in float64; else None.
    """
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
    return _from_tables(counts, sums, g * n)


def _from_tables(counts: np.ndarray, sums: np.ndarray, pixels: int, **maps: Any) -> _Counts:
    """Read the kernels' per-group tables as counts.

    `counts` has five integer columns (valid pixels, discordant pairs, ties before, ties
    after, ties kept) and `sums` three (xy, xx, yy); `maps` are the optional fields.
    """
    return _Counts(
        valid=counts[:, 0],
        discordant=counts[:, 1],
        ties_x=counts[:, 2],
        ties_y=counts[:, 3],
        kept=counts[:, 4],
        sxy=sums[:, 0],
        sxx=sums[:, 1],
        syy=sums[:, 2],
        nan_pixels=int(pixels - counts[:, 0].sum()),
        **maps,
    )
