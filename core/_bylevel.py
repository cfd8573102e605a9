"""A rank diff's counts without per-pixel maps, for big groups of small integers.

Pixels are put in buckets by their before level, each bucket's after values sorted, equal (level,
after) pixels merged into one weighted entry, and the entries walked once in after-order.

What :mod:`core.ranks` asks the compiled engine for when no map is wanted (``report``, the
batch verdict) and `before` holds 8- or 16-bit integers: a group of n pixels costs n
bucket writes and sorts of n/k values each (in cache) instead of one sort of n 64-bit
keys, and the walk visits the distinct (before, after) pairs only (a normalization of 8-bit
data gives few). Imported only when numba is installed.
"""

from __future__ import annotations

import functools

import numpy as np
from numba import njit

_jit = functools.partial(njit, nogil=True, cache=True, error_model="numpy")

#: Groups at least this big go through buckets; smaller ones keep the 64-bit-key sort.
MIN_PIXELS = 1 << 16
_WIDEST = 1 << 20  # pixels of one level: its hash table (24 bytes a slot, 2 slots a pixel)


@_jit
def _bucket(codes, k, after, starts, out):
    """Each row's valid after values (not NaN) into ``out``, by level.

    Level L of row r fills ``out[r, starts[r, L]:starts[r, L + 1]]``; `starts` holds the per-level
    counts on entry (in ``starts[r, L + 1]``) and their running sums on return.
    """
    g, n = codes.shape
    fill = np.empty(k, np.int64)
    for r in range(g):
        for lev in range(k):
            starts[r, lev + 1] += starts[r, lev]
            fill[lev] = starts[r, lev]
        for i in range(n):
            v = np.float64(after[r, i])
            if v == v:
                c = codes[r, i]
                out[r, fill[c]] = v
                fill[c] += 1


@_jit
def _level_counts(codes, k, after, starts):
    """``starts[r, L + 1]``: the valid pixels (after not NaN) of row r at level L."""
    g, n = codes.shape
    for r in range(g):
        for i in range(n):
            v = np.float64(after[r, i])
            if v == v:
                starts[r, codes[r, i] + 1] += 1


@njit(inline="always")
def _slot(keys, stamp, epoch, key, shift, mask):
    """Where `key` is, or the empty slot where it goes (linear probing)."""
    h = (key * np.uint64(0x9E3779B97F4A7C15)) >> shift
    while stamp[h] == epoch and keys[h] != key:
        h = (h + np.uint64(1)) & mask
    return h


@_jit
def _distinct(values, starts, k):
    """Each level's distinct values in a row's buckets, increasing, with how many pixels hold each.

    They come as (value, level, weight), level by level. A hash table per level finds them; it
    starts small and doubles as values come, so that it stays in cache for the usual few distinct
    values. Equal floats are one value (-0.0 is 0.0).
    """
    cap = 16
    value = np.empty(cap, np.float64)
    level = np.empty(cap, np.int64)
    weight = np.empty(cap, np.int64)
    m = 0
    widest = 1
    for lev in range(k):
        widest = max(widest, starts[lev + 1] - starts[lev])
    most = 64
    while most < 2 * widest:
        most *= 2
    keys = np.empty(most, np.uint64)
    counts = np.empty(most, np.int64)
    stamp = np.full(most, -1, np.int64)  # slot in use when it holds the current epoch
    slots = np.empty(widest, np.int64)
    bits = np.empty(1, np.float64)
    raw = bits.view(np.uint64)
    epoch = 0
    for lev in range(k):
        d = 0
        size = 64
        shift = np.uint64(58)
        mask = np.uint64(size - 1)
        epoch += 1
        for t in range(starts[lev], starts[lev + 1]):
            bits[0] = values[t] + 0.0  # -0.0 + 0.0 is 0.0
            key = raw[0]
            h = _slot(keys, stamp, epoch, key, shift, mask)
            if stamp[h] == epoch:
                counts[h] += 1
                continue
            stamp[h] = epoch
            keys[h] = key
            counts[h] = 1
            slots[d] = h
            d += 1
            if 2 * d > size and size < most:  # double the table, and put the keys back
                held_keys = keys[slots[:d]]
                held_counts = counts[slots[:d]]
                size *= 2
                shift -= np.uint64(1)
                mask = np.uint64(size - 1)
                epoch += 1
                for j in range(d):
                    h = _slot(keys, stamp, epoch, held_keys[j], shift, mask)
                    stamp[h] = epoch
                    keys[h] = held_keys[j]
                    counts[h] = held_counts[j]
                    slots[j] = h
        if m + d > cap:
            while m + d > cap:
                cap *= 2
            value = np.concatenate((value, np.empty(cap - len(value))))
            level = np.concatenate((level, np.empty(cap - len(level), np.int64)))
            weight = np.concatenate((weight, np.empty(cap - len(weight), np.int64)))
        found = keys[slots[:d]].view(np.float64)
        order = np.argsort(found)
        for j in range(d):
            value[m + j] = found[order[j]]
            level[m + j] = lev
            weight[m + j] = counts[slots[order[j]]]
        m += d
    return value[:m], level[:m], weight[:m]


@_jit
def _walk(value, level, weight, order, below, k, counts, sums):
    """The weighted walk of one group's entries in after-order (`order`).

    Tie runs of after, a Fenwick tree of levels for the discordant pairs, average ranks for
    Spearman. ``below[L]``: the valid pixels below level L (``below[k]`` all of them).
    """
    mr = below[k]
    mu = (mr + 1) / 2.0
    tree = np.zeros(k + 1, np.int64)
    ties_x = 0
    sxx = 0.0
    for lev in range(k):
        c = below[lev + 1] - below[lev]
        ties_x += c * (c - 1) // 2
        rx = (below[lev] + below[lev + 1] + 1) / 2.0
        sxx += c * (rx - mu) * (rx - mu)
    disc = 0
    ties_y = 0
    kept = 0
    sxy = 0.0
    syy = 0.0
    seen = 0
    m = len(order)
    t = 0
    while t < m:
        first = value[order[t]]
        e = t + 1
        run = weight[order[t]]
        while e < m and value[order[e]] == first:
            run += weight[order[e]]
            e += 1
        ry = (2 * seen + run + 1) / 2.0
        ties_y += run * (run - 1) // 2
        syy += run * (ry - mu) * (ry - mu)
        for u in range(t, e):  # against the pixels before the run: greater level, discordant
            j = order[u]
            lev = level[j]
            w = weight[j]
            at_or_below = 0
            p = lev + 1
            while p > 0:
                at_or_below += tree[p]
                p -= p & -p
            disc += w * (seen - at_or_below)
            kept += w * (w - 1) // 2
            rx = (below[lev] + below[lev + 1] + 1) / 2.0
            sxy += w * (rx - mu) * (ry - mu)
        for u in range(t, e):
            j = order[u]
            p = level[j] + 1
            while p <= k:
                tree[p] += weight[j]
                p += p & -p
        seen += run
        t = e
    counts[0] = mr
    counts[1] = disc
    counts[2] = ties_x
    counts[3] = ties_y
    counts[4] = kept
    sums[0] = sxy
    sums[1] = sxx
    sums[2] = syy


def counts_by_level(
    codes: np.ndarray, k: int, after: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The counts and Spearman sums of a rank diff per row of `codes` and `after`.

    `codes` holds levels below `k`; NaN pixels of `after` are left out. The valid pixels, discordant
    pairs, before ties, after ties and pairs tied in both (int64, (G, 5)), and the Spearman sums
    Σ(rx−μ)(ry−μ), Σ(rx−μ)², Σ(ry−μ)² (float64, (G, 3)), as :func:`core._kernels.scan` gives them;
    None when one level holds more than a million pixels (its table would not fit in cache).

    Examples
    --------
    >>> codes = np.array([[0, 1, 2, 2]], np.uint8)
    >>> counts, _ = counts_by_level(codes, 3, np.array([[0.0, 2.0, 1.0, 1.0]]))
    >>> counts.tolist()  # 4 pixels, 2 discordant pairs, 1 before tie, 1 after tie, 1 kept
    [[4, 2, 1, 1, 1]]
    """
    g, n = codes.shape
    starts = np.zeros((g, k + 1), np.int64)
    _level_counts(codes, k, after, starts)
    if starts.max() > _WIDEST:
        return None
    buckets = np.empty((g, n), np.float64)
    _bucket(codes, k, after, starts, buckets)
    counts = np.zeros((g, 5), np.int64)
    sums = np.zeros((g, 3))
    for r in range(g):
        value, level, weight = _distinct(buckets[r], starts[r], k)
        order = np.argsort(value)
        _walk(value, level, weight, order, starts[r], k, counts[r], sums[r])
    return counts, sums
