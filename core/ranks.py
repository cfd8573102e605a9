"""Pixel-rank diff: whether a brighter pixel is still brighter after a normalization.

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

import math
from dataclasses import dataclass, field
from typing import cast

import numpy as np

from normscope.core._rank_compiled import _key32
from normscope.core._rank_counts import (
    Diagnosis,
    Engine,
    PairCounts,
    RankDiff,
    _as_groups,
    _counts,
    _diff,
    _Layout,
    image_chunks,
    rank_preserving,
)
from normscope.core._rank_numpy import _Counts, _sort_kind
from normscope.core._rank_tally import RankTally
from normscope.core.dtypes import canonical
from normscope.core.roles import Scope

__all__ = [
    "Diagnosis",
    "Engine",
    "PairCounts",
    "RankDiff",
    "RankMaps",
    "RankTally",
    "diagnose",
    "image_chunks",
    "image_scope",
    "rank_compare",
    "rank_diff",
    "rank_maps",
    "rank_preserving",
    "shift_over_channels",
]


@dataclass(frozen=True, eq=False)
class _Sorted:
    """Each group's valid values in order, to rank any one pixel by binary search.

    The before values of a group are sorted on its first look-up.
    """

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


def diagnose(before: np.ndarray, after: np.ndarray, *, roles: str) -> Diagnosis:
    """Check where ranks are kept, in every standard scope that fits the array.

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


def image_scope(scope: Scope | None) -> Scope:
    """The rank scope within one image.

    ``"image"`` (and None, the default) is the whole image, which in an image's own roles (no N
    axis) is ``"all"``; others stay as they are.

    Examples
    --------
    >>> image_scope("image"), image_scope(None), image_scope("row")
    ('all', 'all', 'row')
    """
    if scope is None or scope == "image":
        return "all"
    return scope


def shift_over_channels(maps: RankMaps, roles: str) -> np.ndarray:
    """Each pixel's rank shift, the mean over the channels of a colour image (float32).

    Examples
    --------
    >>> x = np.array([[[1, 2], [3, 4]]], np.uint8)
    >>> m = rank_maps(x, x[..., ::-1].copy(), roles="HWC")
    >>> shift_over_channels(m, "HWC").tolist()
    [[0.0, 0.0]]
    """
    shift = maps.displacement
    if "C" not in roles:
        return shift
    return cast(np.ndarray, shift.mean(axis=roles.index("C"), dtype=np.float32))
