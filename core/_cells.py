"""A report's counts from a table of (group, level) cells, never from the normalized array.

For a normalization whose output is a function of the pixel's value and its group's statistics
(``keras``, ``lp``, ``minmax`` over any axes, ``dtype``) and an input of 8- or 16-bit integers
or bools, every pixel of one cell (the same value in the same group) gets the same output. So
one pass over the input counts its pixels per cell (``np.bincount`` a chunk at a time), the
groups' statistics come from those counts as exact integers (every sum of 8/16-bit integers
below 2**53 is exact in float64, in any order: numpy's own bits), each cell's output is made
with the method's own float operations (the bits of the full output), and the rank counts of
the report (pairs, ties, Kendall's discordant pairs as weighted inversions, Spearman's sums as
exact integers) come from the cells in numpy. Peak memory is the input and a chunk; no numba.

Equal to the pixel-by-pixel report (:func:`core.report.build_report`): every integer count and
verdict, Kendall's τ-b (made from the counts by the same code), the output's dtype, range and
non-finite count. Spearman's ρ and the output mean agree to 1e-12 relative (the tests' bound;
1e-14 is usual): here ρ comes from exact integer sums rounded once, and the mean from a
pairwise sum over the cells; the other engines sum floats over the pixels in their own orders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from normscope.core import engine as _engine
from normscope.core._rank_counts import Diagnosis, RankDiff, _diff, _layout, rank_preserving
from normscope.core._rank_numpy import _Counts, _small
from normscope.core.dtypes import canonical
from normscope.core.normalize import Normalization
from normscope.core.roles import SCOPES, Scope, scope_axes

#: Inputs with fewer values keep the pixel-by-pixel report (it is quick for them).
MIN_VALUES = _engine.SMALL
#: A table of cells is used when it has at most this many cells per value of the input.
CELLS_PER_VALUE = 0.25
_CHUNK = 1 << 20  # values per chunk of temporaries
_SLAB = 1 << 18  # values per slab of a pixel-by-pixel check (its temporaries are many)
_SPLIT = 29  # Spearman's products are summed as two int64 halves of this many bits


@dataclass(frozen=True, eq=False)
class CellReport:
    """What a report says, counted from cells: the rank diff, the diagnosis, the output."""

    diff: RankDiff
    diagnosis: Diagnosis
    output_min: float
    output_max: float
    output_mean: float


def cell_report(
    x: np.ndarray, roles: str, normalization: Normalization, scope: Scope
) -> CellReport | None:
    """The report's numbers for `x` and its `normalization` within `scope`, from cells.

    None when the normalization, the data or the table's size does not suit; the caller then
    counts pixel by pixel.

    Examples
    --------
    >>> x = np.tile(np.arange(256, dtype=np.uint8), (512, 4))
    >>> x[::2] //= 2  # every other row fainter: its own norm
    >>> found = cell_report(x, "HW", Normalization(method="keras", axis=1), "all")
    >>> found.diff.pairs.discordant, found.diagnosis.preserved["row"]
    (17045651456, True)
    """
    x = canonical(x)
    plain = _plain(x, normalization)
    if plain is None:
        return None
    norm_kept = _kept(plain.resolved_axis(x.ndim), x.ndim)
    lo, hi = int(x.min()), int(x.max())
    levels = hi - lo + 1
    budget = CELLS_PER_VALUE * x.size

    def fits(axes: set[int]) -> bool:
        return bool(math.prod(x.shape[a] for a in axes) * levels <= budget)

    scope_kept = _scope_kept(scope, roles, x.ndim)
    table_axes = set(norm_kept) | set(scope_kept)
    if "N" in roles:  # the batch's per-image counts
        table_axes |= set(_scope_kept("image", roles, x.ndim))
    if not fits(table_axes):
        return None
    for s in SCOPES:  # the diagnosis' scopes that the table can answer too
        kept = _scope_kept(s, roles, x.ndim) if scope_axes(s, roles) is not None else ()
        if fits(table_axes | set(kept)):
            table_axes |= set(kept)
    table = _Table(x, tuple(sorted(table_axes)), lo, levels)
    after = _after_values(plain, table.per_group(norm_kept), lo, x.dtype)
    if after is None:
        return None
    weights = table.per_group(norm_kept).reshape(-1)
    present = weights > 0
    values = after.reshape(-1)[present]
    if not np.isfinite(values).all():
        return None
    mean = float((weights[present] * values).sum()) / x.size
    counts = _scope_counts(table, scope_kept, norm_kept, after)
    diff = _diff(counts, _layout(x.shape, scope, roles), scope)
    return CellReport(
        diff=diff,
        diagnosis=_diagnosis(x, roles, table, norm_kept, after, scope, counts),
        output_min=float(values.min()),
        output_max=float(values.max()),
        output_mean=mean,
    )


#: Presets whose arithmetic is the ``lp`` method's (x / norm, a zero norm as 1), by order.
_LP_PRESETS = {
    "sklearn.normalize.l1": 1.0,
    "sklearn.normalize.l2": 2.0,
    "sklearn.normalize.max": math.inf,
}


def _plain(x: np.ndarray, n: Normalization) -> Normalization | None:
    """The method call that `n` of `x` is, when the cells reproduce it (None otherwise).

    That is, when its output is a function of (value, group statistics) made by operations
    that :func:`_after_values` repeats.
    """
    if x.dtype not in (np.uint8, np.uint16, np.bool_) or not max(MIN_VALUES, 1) <= x.size < 1 << 28:
        return None
    if n.preset is not None:
        order = _LP_PRESETS.get(n.preset)
        return None if order is None else n.with_(preset=None, order=order)
    if n.method == "keras":  # over one axis; two make np.linalg.norm a matrix norm
        axes = n.resolved_axis(x.ndim)
        ok = axes is not None and len(axes) == 1 and n.order in (1, 2, math.inf)
        return n if ok else None
    return n if n.method in ("lp", "minmax", "dtype") else None


def _kept(axes: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    """The axes not in `axes` (None: every axis is in)."""
    return () if axes is None else tuple(a for a in range(ndim) if a not in axes)


def _scope_kept(scope: Scope, roles: str, ndim: int) -> tuple[int, ...]:
    """The axes that index the groups of `scope`."""
    axes = scope_axes(scope, roles)
    if axes is None:
        raise ValueError(f"scope {scope!r} does not fit an array with roles {roles!r}")
    return _kept(axes, ndim)


class _Table:
    """The pixels of `x` counted per cell: per index over `axes` and per level (value − lo)."""

    def __init__(self, x: np.ndarray, axes: tuple[int, ...], lo: int, levels: int) -> None:
        self.x, self.axes, self.lo, self.levels = x, axes, lo, levels
        self.shape = tuple(x.shape[a] for a in axes)
        size = math.prod(self.shape) * levels
        counts = np.zeros(size, np.int64)
        offsets = _offsets(x.shape, axes, levels)  # broadcasts over x
        per_row = size // x.shape[0] if 0 in axes else 0  # keys of one index of axis 0
        rows = max(1, _CHUNK // max(1, x.size // x.shape[0]))
        for r0 in range(0, x.shape[0], rows):
            r1 = min(r0 + rows, x.shape[0])
            start, end = (r0 * per_row, r1 * per_row) if per_row else (0, size)
            key = x[r0:r1].astype(np.int64)
            key += (offsets[r0:r1] if per_row else offsets) - (start + lo)
            counts[start:end] += np.bincount(key.reshape(-1), minlength=end - start)
        self.counts = counts.reshape((*self.shape, levels))

    def coarse(self, axes: tuple[int, ...]) -> np.ndarray:
        """The counts per index over `axes` (a subset of the table's) and level."""
        drop = tuple(i for i, a in enumerate(self.axes) if a not in axes)
        return self.counts.sum(axis=drop) if drop else self.counts

    def per_group(self, axes: tuple[int, ...]) -> np.ndarray:
        """The counts as (groups over `axes`, levels)."""
        return self.coarse(axes).reshape(-1, self.levels)

    def cells(
        self, axes: tuple[int, ...], first: tuple[int, ...], second: tuple[int, ...]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The non-empty cells over `axes`: their weight, level and groups over `first`, `second`.

        In order of the group over `first`, then the level, then the rest. Group indices are
        C-order indices over the shapes of those axes (subsets of `axes`).
        """
        lead = [axes.index(a) for a in first]
        rest = [i for i in range(len(axes)) if i not in lead]
        moved = np.transpose(self.coarse(axes), [*lead, len(axes), *rest])
        flat = moved.reshape(-1)
        where = np.flatnonzero(flat)
        weight = flat[where]
        del flat
        names = [*first, None, *(axes[i] for i in rest)]
        # each coordinate in the smallest dtype that holds it, made one at a time
        at = {}
        for i, name in enumerate(names):
            inner = math.prod(moved.shape[i + 1 :])
            at[name] = _small((where // inner) % moved.shape[i], moved.shape[i] - 1)
        del where

        def index(sub: tuple[int, ...]) -> np.ndarray:
            if not sub:
                return np.zeros(len(weight), np.uint8)
            shape = tuple(self.x.shape[a] for a in sub)
            return _small(np.ravel_multi_index(tuple(at[a] for a in sub), shape), math.prod(shape))

        return weight, at[None], index(first), index(second)


def _offsets(shape: tuple[int, ...], axes: tuple[int, ...], levels: int) -> np.ndarray:
    """Each pixel's first key, ``cell group x levels``, as an array that broadcasts over `shape`."""
    out = np.zeros([1] * len(shape), np.int64)
    stride = levels
    for a in reversed(axes):
        step = np.arange(shape[a], dtype=np.int64) * stride
        out = out + step.reshape([-1 if i == a else 1 for i in range(len(shape))])
        stride *= shape[a]
    return out


def _after_values(
    n: Normalization, counts: np.ndarray, lo: int, dtype: np.dtype
) -> np.ndarray | None:
    """Each (group, level) cell's output, as the method's float operations make it.

    None when a statistic's sum could be inexact in float64 (numpy's order would matter).
    """
    g, k = counts.shape
    level = np.arange(lo, lo + k, dtype=np.int64)
    value = level.astype(np.float64)[None, :]
    pixels, top = int(counts.sum(axis=1).max()), max(abs(lo), abs(lo + k - 1))
    present = counts > 0
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        if n.method == "dtype":
            scale = 1.0 if dtype == np.bool_ else 1.0 / np.iinfo(dtype).max
            return np.broadcast_to(value if dtype == np.bool_ else value * scale, (g, k))
        if n.method == "minmax":
            first = present.argmax(axis=1)
            last = k - 1 - present[:, ::-1].argmax(axis=1)
            low = (lo + first).astype(np.float64)[:, None]
            span = (lo + last).astype(np.float64)[:, None] - low
            a, b = n.feature_range
            return np.asarray((value - low) / np.where(span == 0, 1.0, span) * (b - a) + a)
        if n.order == 2:
            if pixels * top * top >= 1 << 53:
                return None
            norm = np.sqrt((counts @ (level * level)).astype(np.float64))
        elif n.order == 1:
            if pixels * top >= 1 << 53:
                return None
            norm = (counts @ np.abs(level)).astype(np.float64)
        else:  # inf
            last = k - 1 - present[:, ::-1].argmax(axis=1)
            norm = np.abs(lo + last).astype(np.float64)
        norm = np.where(norm == 0, 1.0, norm)[:, None]  # keras sets 0 to 1; lp divides by 1
        return np.asarray(value / norm)


def _group_sums(values: np.ndarray, groups: np.ndarray, count: int) -> np.ndarray:
    """Exact int64 sums of `values` per group, for `groups` sorted."""
    if count == 1:
        return np.array([values.sum(dtype=np.int64)])
    total = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    edges = np.searchsorted(groups, np.arange(count + 1))
    return np.asarray(total[edges[1:]] - total[edges[:-1]])


def _exact_products(
    weight: np.ndarray, d: np.ndarray, e: np.ndarray, groups: np.ndarray, count: int
) -> np.ndarray:
    """Σ weight·d·e per group (sorted), summed exactly and rounded once to float64.

    d·e fits int64 (|d|, |e| < 2**28); it is cut in two halves whose weighted sums fit too.
    Made a slice at a time, so that its temporaries stay small.
    """
    high, low = np.zeros(count, np.int64), np.zeros(count, np.int64)
    for i in range(0, len(weight), _SLAB):
        part = slice(i, i + _SLAB)
        p = d[part].astype(np.int64) * e[part]
        high += _group_sums(weight[part] * (p >> _SPLIT), groups[part], count)
        low += _group_sums(weight[part] * (p & ((1 << _SPLIT) - 1)), groups[part], count)
    return np.array([float((int(h) << _SPLIT) + int(lw)) for h, lw in zip(high, low, strict=True)])


def weighted_inversions(
    groups: np.ndarray, levels: np.ndarray, weights: np.ndarray, count: int
) -> np.ndarray:
    """Per group: Σ wᵢ·wⱼ over the pairs i < j of the group with ``levels[i] > levels[j]``.

    `groups` is sorted (each group's entries in their order). A wavelet-tree count: for each
    bit of the levels, from the top, the entries of each node (same group, same higher bits)
    in their order, and for each entry with the bit clear the weight of earlier entries with
    it set; one stable (radix) sort of small keys per bit, O(n log L) in numpy.

    Examples
    --------
    >>> weighted_inversions(np.zeros(3, int), np.array([2, 0, 1]), np.array([1, 2, 3]), 1)
    array([5])
    """
    weights = np.asarray(weights, np.int64)
    out = np.zeros(count, np.int64)
    if len(levels) == 0:
        return out
    top = int(levels.max())
    levels = _small(np.asarray(levels), top)  # small keys: radix sorts, little memory
    bits = top.bit_length()
    for b in range(bits - 1, -1, -1):
        node = levels >> (b + 1)
        if count > 1:  # the group above the level's higher bits
            node = node | np.asarray(groups, np.int64) << (bits - b - 1)
        order = np.argsort(node, kind="stable")
        node = node[order]
        bit = (levels[order] >> b) & 1
        w = weights[order]
        ones = w * bit
        before = np.cumsum(ones)
        before -= ones  # weight with the bit set before each entry
        starts = np.flatnonzero(np.diff(node, prepend=node[:1] + 1) != 0)
        before -= np.repeat(before[starts], np.diff(np.append(starts, len(node))))  # in its node
        w -= ones
        w *= before  # entries with the bit clear, against the earlier ones with it set
        del before, ones, bit
        out += _group_sums(w, groups[order], count) if count > 1 else w.sum()
    return out


def _scope_counts(
    table: _Table, scope_kept: tuple[int, ...], norm_kept: tuple[int, ...], after: np.ndarray
) -> _Counts:
    """The rank diff's counts per group of the scope, from the cells."""
    axes = tuple(sorted(set(scope_kept) | set(norm_kept)))
    weight, level, group, norm_group = table.cells(axes, scope_kept, norm_kept)
    count = math.prod(table.x.shape[a] for a in scope_kept)
    value = after[norm_group, level]
    del norm_group
    # by group, after value, level: the cells come by group and level, and the sorts are stable
    order = np.argsort(value, kind="stable") if count == 1 else np.lexsort((value, group))
    value = value[order]
    level = level[order]
    weight = weight[order]
    group = group[order]
    del order
    same_value = np.zeros(len(value), bool)  # the same group and after value as the one before
    same_value[1:] = (value[1:] == value[:-1]) & (group[1:] == group[:-1])
    same = same_value.copy()
    same[1:] &= level[1:] == level[:-1]
    starts = np.flatnonzero(~same)  # equal (group, after, level): one entry
    weight = np.add.reduceat(weight, starts) if len(starts) else weight
    level, group, same_value = level[starts], group[starts], same_value[starts]
    del value, same, starts
    kept = _group_sums(weight * (weight - 1) // 2, group, count)
    # runs of equal after values: ties of after, and their average ranks
    run_starts = np.flatnonzero(~same_value)
    run = np.add.reduceat(weight, run_starts) if len(run_starts) else weight
    run_group = group[run_starts]
    ties_y = _group_sums(run * (run - 1) // 2, run_group, count)
    # levels per group of the scope: ties of before, and their average ranks
    by_level = table.coarse(scope_kept).reshape(count, table.levels)
    valid = by_level.sum(axis=1)
    ties_x = (by_level * (by_level - 1) // 2).sum(axis=1)
    centre = valid + 1
    dx = 2 * (np.cumsum(by_level, axis=1) - by_level) + by_level + 1 - centre[:, None]
    totals = _group_sums(run, run_group, count)
    seen = (np.cumsum(run) - run) - (np.cumsum(totals) - totals)[run_group]  # within its group
    dy_run = 2 * seen + run + 1 - centre[run_group]  # twice the rank, minus twice the mean
    del seen
    every = np.repeat(np.arange(count), table.levels)
    sxx = _exact_products(by_level.reshape(-1), dx.reshape(-1), dx.reshape(-1), every, count)
    syy = _exact_products(run, dy_run, dy_run, run_group, count)
    dy = np.repeat(dy_run, np.diff(np.append(run_starts, len(weight))))
    sxy = _exact_products(weight, dx[group, level], dy, group, count)
    del dy, dy_run, run, run_group
    return _Counts(
        valid=valid,
        discordant=weighted_inversions(group, level, weight, count),
        ties_x=ties_x,
        ties_y=ties_y,
        kept=kept,
        sxy=sxy / 4,
        sxx=sxx / 4,
        syy=syy / 4,
        nan_pixels=0,
    )


def _diagnosis(
    x: np.ndarray,
    roles: str,
    table: _Table,
    norm_kept: tuple[int, ...],
    after: np.ndarray,
    scope: Scope,
    counts: _Counts,
) -> Diagnosis:
    """Where ranks are kept (every standard scope), and the batch's flips per image."""
    preserved: dict[str, bool | None] = {}
    per_image = None
    for s in SCOPES:
        if scope_axes(s, roles) is None:
            preserved[s] = None
            continue
        kept = _scope_kept(s, roles, x.ndim)
        if s == "image" or s == scope:
            c = counts if s == scope else _scope_counts(table, kept, norm_kept, after)
            if s == "image":
                per_image = c.discordant
            preserved[s] = not (c.discordant.any() or (c.ties_x - c.kept).any())
        elif set(kept) | set(norm_kept) <= set(table.axes):
            preserved[s] = _monotone(table, kept, norm_kept, after)
        else:
            preserved[s] = _monotone_by_pixels(x, roles, s, kept, table, norm_kept, after)
    if per_image is None:
        return Diagnosis(preserved, None, None)
    worst = int(np.argmax(per_image)) if per_image.any() else None
    return Diagnosis(preserved, int(np.count_nonzero(per_image)), worst)


def _monotone(
    table: _Table, scope_kept: tuple[int, ...], norm_kept: tuple[int, ...], after: np.ndarray
) -> bool:
    """Whether the output is a non-decreasing function of the level in every group of the scope."""
    axes = tuple(sorted(set(scope_kept) | set(norm_kept)))
    _, level, group, norm_group = table.cells(axes, scope_kept, norm_kept)
    value = after[norm_group, level]
    del norm_group
    if not set(norm_kept) <= set(scope_kept):  # cells of a level from several groups
        order = np.lexsort((value, level, group))  # else they come by group and level
        value, level, group = value[order], level[order], group[order]
    same_group = group[1:] == group[:-1]
    rising = value[1:] >= value[:-1]
    function = (level[1:] != level[:-1]) | (value[1:] == value[:-1])
    return bool((~same_group | (rising & function)).all())


def _monotone_by_pixels(
    x: np.ndarray,
    roles: str,
    scope: str,
    scope_kept: tuple[int, ...],
    table: _Table,
    norm_kept: tuple[int, ...],
    after: np.ndarray,
) -> bool | None:
    """:func:`_monotone` for a scope whose cells would be as many as the pixels.

    The output is made from the cells a slab of whole groups at a time and checked by
    :func:`rank_preserving`; the first slab that flips a pair ends it.
    """
    axis = scope_kept[0]
    offsets = _offsets(x.shape, norm_kept, table.levels) - table.lo
    flat = after.reshape(-1)
    per = max(1, _SLAB // max(1, x.size // x.shape[axis]))
    verdict: bool | None = None
    for c0 in range(0, x.shape[axis], per):
        cut = (slice(None),) * axis + (slice(c0, c0 + per),)
        part = x[cut]
        where = offsets[cut] if offsets.shape[axis] > 1 else offsets
        y = flat[part.astype(np.int64) + where]
        with _engine.kernels_for(0):  # numpy's O(n) check: no numba to load for it
            kept = rank_preserving(part, y, scope=scope, roles=roles)
        if kept is False:
            return False
        verdict = verdict or kept
    return verdict
