"""A rank diff's groups and counts.

The layout of an array as (groups, pixels) rows, the choice of engine, the statistics of the counts,
and the O(n) rank-preservation check.

The public names here are re-exported by :mod:`core.ranks`, where they are documented.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from normscope.core import engine as _engine
from normscope.core._rank_compiled import _compiled_counts
from normscope.core._rank_numpy import _CHUNK, _codes, _Counts, _numpy_counts
from normscope.core.dtypes import canonical
from normscope.core.roles import Scope, infer_roles, scope_axes

Engine = Literal["auto", "compiled", "numpy"]


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


@dataclass(frozen=True)
class Diagnosis:
    """Where ranks are kept: one verdict per standard scope.

    None where a scope does not fit, or where NaN pixels leave no pair to compare.
    """

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
    """Both arrays as (groups, pixels) rows, and how they were laid out.

    The rows are views where the strides allow, unless `contiguous`.
    """
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


# --- counts and statistics ---------------------------------------------------------------------


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


def _stat(
    values: np.ndarray, kept_shape: tuple[int, ...]
) -> tuple[float, float, tuple[int, ...] | None]:
    ok = ~np.isnan(values)
    if not ok.any():
        return math.nan, math.nan, None
    i = int(np.nanargmin(values))
    where = tuple(int(v) for v in np.unravel_index(i, kept_shape)) if kept_shape else ()
    return float(values[ok].mean()), float(values[i]), where


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
    b, a, layout = _as_groups(before, after, scope, roles)
    return _diff(_counts(b, a, False, "auto"), layout, scope).rank_preserving


def image_chunks(
    shape: tuple[int, ...], roles: str, elements: int | None = None
) -> list[tuple[slice, ...]]:
    """Indices that cut an array of `shape` into chunks of whole images (along the N axis).

    Each chunk holds about `elements` values, and at most a few million; one chunk, the whole array,
    when `roles` has no N axis.

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
