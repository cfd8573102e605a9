"""The eight normalization methods, exact to the libraries people call.

Every method is a pure function of the array: a new array comes out, the input is never
changed. ``axis`` means what it means in numpy and ``tf.keras.utils.normalize``: the axes a
statistic is computed **over** (reduced); an int, a tuple or None for the whole array.

==========  =================================================  ==============================
method      computes                                           output dtype
==========  =================================================  ==============================
keras       ``tf.keras.utils.normalize(x, axis, order)``        float64 for integer/bool input,
            (Keras 2 / tf-keras), quirks included               the float dtype otherwise
lp          x / ‖x‖ₚ over the axes, one flattened vector       float32 for float16/32 input,
            per group; an all-zero group stays zero            float64 otherwise
minmax      (x − min) / (max − min) into a target range;       as lp
            a constant group maps to the low end
dtype       x / dtype maximum (uint8 /255, uint16 /65535,      float64 (floats: unchanged)
            signed to [−1, 1], bool to 0/1)
zscore      (x − mean) / std, ddof 0; zero std gives 0         as lp
percentile  clip to the [low, high] percentiles, then minmax   as lp
equalize    histogram equalization (scikit-image semantics)    as lp
meanstd     (x / scale − mean) / std per channel (ImageNet)    float32 (torchvision's math)
==========  =================================================  ==============================

NaN and infinity never raise: they propagate within their group as numpy propagates them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import ModuleType
from typing import Any, cast

import numpy as np

from normscope.core import engine as _engine
from normscope.core.roles import Axis

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "METHODS",
    "MethodInfo",
    "NormalizationError",
    "dtype_max",
    "equalize",
    "keras",
    "lp",
    "meanstd",
    "minmax",
    "percentile",
    "zscore",
]

IMAGENET_MEAN: tuple[float, ...] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, ...] = (0.229, 0.224, 0.225)


class NormalizationError(ValueError):
    """A normalization that the library itself would refuse, said in plain words."""


@dataclass(frozen=True)
class MethodInfo:
    """What the window and the command line need to know about a method."""

    name: str
    label: str
    uses_axis: bool
    uses_order: bool
    default_axis: int | None
    output_dtype: str


_FLOAT_OUT = "float32 for float16/float32 input, else float64"

METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo("keras", "Keras utils.normalize (Lp norm)", True, True, -1,
                   "float64 for integer or bool input, else the input's float dtype"),
        MethodInfo("lp", "Lp norm (vector)", True, True, None, _FLOAT_OUT),
        MethodInfo("minmax", "Min-max", True, False, None, _FLOAT_OUT),
        MethodInfo("dtype", "Divide by dtype maximum", False, False, None,
                   "float64 (float input is returned unchanged)"),
        MethodInfo("zscore", "Z-score (mean/std)", True, False, None, _FLOAT_OUT),
        MethodInfo("percentile", "Percentile clip + min-max", True, False, None, _FLOAT_OUT),
        MethodInfo("equalize", "Histogram equalization", True, False, None, _FLOAT_OUT),
        MethodInfo("meanstd", "Fixed mean/std (torchvision)", False, False, None, "float32"),
    )
}  # fmt: skip


def _float_out(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if x.dtype in (np.float16, np.float32) else np.dtype(np.float64)


def _kept(axes: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    return () if axes is None else tuple(i for i in range(ndim) if i not in axes)


# --- compiled paths ------------------------------------------------------------------------------


def _grouped(x: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray | None:
    """`x` as (outer, m, inner) for the compiled kernels: each group's m values in the middle.

    None when the reduced axes are not adjacent (numpy then does the work).
    """
    if axes is None:
        return np.ascontiguousarray(x).reshape(1, -1, 1)
    axes = tuple(sorted(a % x.ndim for a in axes))
    if not axes or axes != tuple(range(axes[0], axes[-1] + 1)):
        return None
    shape = x.shape
    outer, inner = math.prod(shape[: axes[0]]), math.prod(shape[axes[-1] + 1 :])
    return np.ascontiguousarray(x).reshape(outer, math.prod(shape[i] for i in axes), inner)


def _output(shape: tuple[int, ...], dtype: type | np.dtype, spare: np.ndarray | None) -> np.ndarray:
    """An array to write a result of `shape` and `dtype` into.

    `spare`, reshaped, when it fits (C-contiguous, writeable, that dtype, as many values);
    else a new one.

    Examples
    --------
    >>> spare = np.empty((2, 6))
    >>> _output((3, 4), np.float64, spare).base is spare, _output((3, 4), np.float32, spare).base
    (True, None)
    """
    fits = (
        spare is not None
        and spare.dtype == np.dtype(dtype)
        and spare.size == math.prod(shape)
        and spare.flags.c_contiguous
        and spare.flags.writeable
    )
    return spare.reshape(shape) if fits and spare is not None else np.empty(shape, dtype)


def _compiled(
    kernel: str,
    x: np.ndarray,
    axes: tuple[int, ...] | None,
    dtype: type | np.dtype,
    *args: object,
    spare: np.ndarray | None = None,
) -> np.ndarray | None:
    """``kernels.<kernel>(groups, *args, out, part)`` over blocks of groups on every thread.

    The result goes into `spare` when it fits (see :func:`_output`). None when numba is
    missing or the axes do not suit.
    """
    kernels = _engine.kernels()
    groups = None if kernels is None or x.size == 0 else _grouped(x, axes)
    if groups is None:
        return None
    out = _output(groups.shape, dtype, spare)
    fn = getattr(kernels, kernel)
    outer, _, inner = groups.shape
    parts = _engine.group_parts(outer, inner, rows_only=kernel not in _SIDE_BY_SIDE)
    _engine.in_parts(lambda *part: fn(groups, *args, out, part), parts)
    return out.reshape(x.shape)


# the kernels that take any block of (outer, inner) groups; the others take whole outer rows
_SIDE_BY_SIDE = frozenset({"norm_divide", "min_max", "mean_std"})


# --- the methods ---------------------------------------------------------------------------------


def _exact_sums(x: np.ndarray, axes: tuple[int, ...] | None) -> bool:
    """Whether norms of `x` over `axes` can be summed in any order, bit-identically.

    For 8- and 16-bit integers every square is an integer below 2**32, so sums of fewer than
    2**21 of them are exact in float64: any summation order gives numpy's result.
    """
    if x.dtype.kind not in "uib" or x.dtype.itemsize > 2 or x.ndim == 0:
        return False
    return (x.size if axes is None else math.prod(x.shape[a] for a in axes)) < 2**21


def _sum_of_squares(x: np.ndarray, axis: int) -> np.ndarray:
    """Σ x² over `axis` in float64, as plain strided adds (fast for short axes such as RGB)."""
    if x.shape[axis] <= 8:
        total = np.zeros(np.delete(x.shape, axis), np.float64)
        for i in range(x.shape[axis]):
            v = np.take(x, i, axis=axis).astype(np.float64)
            total += v * v
        return total
    v = x.astype(np.float64)
    return cast(
        np.ndarray, np.einsum("...i,...i->...", np.moveaxis(v, axis, -1), np.moveaxis(v, axis, -1))
    )


def _divide_along(x: np.ndarray, norm: np.ndarray, axis: int) -> np.ndarray:
    """``x / np.expand_dims(norm, axis)`` in float64, one slice at a time for short axes."""
    if x.shape[axis] > 8:
        return cast(np.ndarray, x / np.expand_dims(norm, axis))
    out = np.empty(x.shape, np.float64)
    for i in range(x.shape[axis]):
        index = (slice(None),) * (axis % x.ndim) + (i,)
        np.divide(x[index], norm, out=out[index])
    return out


def keras(x: np.ndarray, axis: Axis, order: float, spare: np.ndarray | None = None) -> np.ndarray:
    """``tf.keras.utils.normalize(x, axis, order)`` as Keras 2 computes it, quirks included.

    The compiled path writes into `spare` when it fits (see :func:`_output`).
    """
    if axis is None:
        raise NormalizationError(
            "Keras 2 rejects axis=None (np.expand_dims cannot take None); "
            "choose the axes to normalize over"
        )
    if isinstance(axis, tuple) and len(axis) > 2:
        raise NormalizationError(
            f"Keras normalize over {len(axis)} axes fails in np.linalg.norm "
            "('Improper number of dimensions to norm'); a tuple axis must name 2 axes"
        )
    try:
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            if order == 2 and isinstance(axis, int) and _exact_sums(x, (axis,)):
                fast = _compiled("norm_divide", x, (axis,), np.float64, 2.0, spare=spare)
                if fast is not None:
                    return fast
                norm = np.atleast_1d(np.sqrt(_sum_of_squares(x, axis)))
                norm[norm == 0] = 1
                return _divide_along(x, norm, axis)
            norm = np.atleast_1d(np.linalg.norm(x, order, axis))  # type: ignore[arg-type]
            norm[norm == 0] = 1
            return cast(np.ndarray, x / np.expand_dims(norm, axis))
    except (ValueError, TypeError) as exc:
        raise NormalizationError(f"Keras normalize rejects this call: {exc}") from exc


def lp(
    x: np.ndarray, axes: tuple[int, ...] | None, order: float, spare: np.ndarray | None = None
) -> np.ndarray:
    """Each group over `axes` divided by its Lp norm (order 1, 2 or inf), x / ‖x‖ₚ.

    An all-zero group stays zero. The compiled path writes into `spare` when it fits.
    """
    if order in (1, 2, math.inf) and _exact_sums(x, axes):
        fast = _compiled("norm_divide", x, axes, np.float64, float(order), spare=spare)
        if fast is not None:
            return fast
    v = x.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        if order == 2:
            norm = np.sqrt(np.sum(v * v, axis=axes, keepdims=True))
        elif order == 1:
            norm = np.sum(np.abs(v), axis=axes, keepdims=True)
        else:  # inf, the only other order Normalization lets through
            norm = np.max(np.abs(v), axis=axes, keepdims=True) if v.size else v
        out = v / np.where(norm == 0, 1.0, norm)
    return out.astype(_float_out(x), copy=False)


def minmax(
    x: np.ndarray,
    axes: tuple[int, ...] | None,
    feature_range: tuple[float, float],
    spare: np.ndarray | None = None,
) -> np.ndarray:
    """(x − min) / (max − min) over `axes`, into `feature_range`.

    A constant group maps to the low end. The compiled path writes into `spare` when it fits.
    """
    a, b = feature_range
    if x.dtype.kind in "uib" and x.dtype.itemsize <= 4:
        fast = _compiled("min_max", x, axes, np.float64, float(a), float(b), spare=spare)
        if fast is not None:
            return fast
    v = x.astype(np.float64)
    if v.size == 0:
        return v.astype(_float_out(x))
    lo = np.min(v, axis=axes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # inf - inf is NaN
        span = np.max(v, axis=axes, keepdims=True) - lo
        out = (v - lo) / np.where(span == 0, 1.0, span) * (b - a) + a
    return cast(np.ndarray, out.astype(_float_out(x), copy=False))


def dtype_max(x: np.ndarray) -> np.ndarray:
    """Each value divided by its dtype's maximum, as scikit-image ``img_as_float``."""
    if x.dtype.kind == "f":
        return x.copy()
    if x.dtype.kind == "b":
        return x.astype(np.float64)
    info = np.iinfo(x.dtype)
    out = x.astype(np.float64) * (1.0 / info.max)  # as scikit-image multiplies
    return np.maximum(out, -1.0) if info.min < 0 else out


_ZSCORE_COMPILED = tuple(map(np.dtype, (np.uint8, np.uint16, np.float32, np.float64)))
#: Values of one group above which its pairwise sums run as subtrees on the threads.
_PAIRWISE_SPLIT = 1 << 16


def _pairwise_tree(k0: int, n: int, depth: int) -> tuple[Any, ...]:
    """The pairwise tree of numpy's sums over ``[k0, k0 + n)``, cut `depth` levels down.

    ``(k0, n)`` leaves in nested pairs, the halves as numpy splits them (the first a multiple
    of 8 long).

    Examples
    --------
    >>> _pairwise_tree(0, 1000, 2)
    (((0, 248), (248, 248)), ((496, 248), (744, 256)))
    """
    if depth == 0 or n <= 128:
        return (k0, n)
    half = n // 2 - n // 2 % 8
    return (_pairwise_tree(k0, half, depth - 1), _pairwise_tree(k0 + half, n - half, depth - 1))


def _pairwise_sum(kernels: ModuleType, flat: np.ndarray, mean: float, square: bool) -> float:
    """``np.add.reduce`` of a contiguous group (of ``(x − mean)²`` when `square`), its bits.

    The pairwise tree's top subtrees are summed on the threads, then added as numpy adds them.
    """
    tree = _pairwise_tree(0, flat.size, 2 if _engine.threads() > 1 else 0)
    leaves: list[tuple[int, int]] = []

    def collect(node: tuple[Any, ...]) -> None:
        if isinstance(node[0], tuple):
            collect(node[0])
            collect(node[1])
        else:
            leaves.append(node)

    collect(tree)
    sums: dict[tuple[int, int], float] = {}

    def leaf(k0: int, n: int) -> None:
        sums[k0, n] = kernels.pairwise_sum(flat, k0, n, mean, square)

    _engine.in_parts(leaf, leaves)

    def total(node: tuple[Any, ...]) -> float:
        return total(node[0]) + total(node[1]) if isinstance(node[0], tuple) else sums[node]

    return total(tree)


def _zscore_compiled(
    x: np.ndarray, axes: tuple[int, ...] | None, spare: np.ndarray | None
) -> np.ndarray | None:
    """z-score with the kernels, or None (no numba, or axes that are not adjacent).

    Each group's mean and std in numpy's order of additions: one value after another for
    groups side by side, numpy's pairwise tree for contiguous ones; then the elementwise pass
    on every thread.
    """
    kernels = _engine.kernels()
    if kernels is None or x.size == 0:
        return None
    groups = _grouped(x, axes)
    if groups is None:
        return None
    outer, m, inner = groups.shape
    mean, std = np.empty((outer, inner)), np.empty((outer, inner))
    if inner > 1:  # side by side: a part per group when there are few (one per channel)
        if outer < _engine.threads() and inner < 16:
            parts = [(0, outer, i, i + 1) for i in range(inner)]
        else:
            parts = _engine.group_parts(outer, inner)
        _engine.in_parts(lambda *part: kernels.zscore_stats(groups, mean, std, part), parts)
    elif outer == 1 and m > _PAIRWISE_SPLIT:  # one long group: its subtrees on the threads
        flat = groups.reshape(m)
        mean[0, 0] = mu = _pairwise_sum(kernels, flat, 0.0, False) / m
        std[0, 0] = np.sqrt(_pairwise_sum(kernels, flat, mu, True) / m)
    else:
        rows = groups.reshape(outer, m)
        _engine.in_parts(
            lambda *part: kernels.pairwise_stats(rows, mean[:, 0], std[:, 0], part),
            _engine.row_parts(outer),
        )
    out = _output(groups.shape, _float_out(x), spare)
    _engine.in_parts(
        lambda *part: kernels.zscore_divide(groups, mean, std, out, part),
        _engine.block_parts(outer, m, inner),
    )
    return out.reshape(x.shape)


def zscore(
    x: np.ndarray, axes: tuple[int, ...] | None, spare: np.ndarray | None = None
) -> np.ndarray:
    """(x − mean) / std over `axes`, ddof 0; a zero std gives 0.

    The bits of ``(x - x.mean(axes)) / x.std(axes)`` in float64: compiled, with numpy's order
    of additions (one value after another for groups side by side, its pairwise tree for
    contiguous groups), for the dtypes the kernels are warmed up for (into `spare` when it fits).
    """
    if x.dtype in _ZSCORE_COMPILED:
        fast = _zscore_compiled(x, axes, spare)
        if fast is not None:
            return fast
    v = x.astype(np.float64)
    if v.size == 0:
        return v.astype(_float_out(x))
    count = v.size if axes is None else math.prod(v.shape[a] for a in axes)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # NaN and inf propagate
        # np.mean and np.std's own operations, in their order, so the same bits, but with
        # the deviations made once and in place: four passes fewer over float64 data
        mean = np.add.reduce(v, axis=axes, keepdims=True) / count
        v -= mean
        std = np.sqrt(np.add.reduce(v * v, axis=axes, keepdims=True) / count)
        np.divide(v, np.where(std == 0, 1.0, std), out=v)
        np.copyto(v, 0.0, where=std == 0)
    return v.astype(_float_out(x), copy=False)


def percentile(
    x: np.ndarray, axes: tuple[int, ...] | None, percentiles: tuple[float, float]
) -> np.ndarray:
    """Clip each group to its [low, high] `percentiles`, then min-max.

    The percentiles use numpy's linear interpolation.
    """
    low, high = percentiles
    if not 0 <= low < high <= 100:
        raise NormalizationError(
            f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}"
        )
    if x.dtype in (np.uint8, np.uint16) and x.size and _level_table_fits(x, axes):
        points = _percentile_points(x, axes, (low, high))
        fast = _compiled("percentile_clip", x, axes, np.float64, int(x.max()) + 1, *points)
        if fast is not None:
            return fast
    v = x.astype(np.float64)
    if v.size == 0:
        return v.astype(_float_out(x))
    with np.errstate(invalid="ignore", divide="ignore"):
        lo, hi = np.percentile(v, (low, high), axis=axes, keepdims=True)
        span = hi - lo  # the clipped group's own min and max: no second pass needed
        out = (np.clip(v, lo, hi) - lo) / np.where(span == 0, 1.0, span)
    return cast(np.ndarray, out.astype(_float_out(x), copy=False))


def _level_table_fits(x: np.ndarray, axes: tuple[int, ...] | None) -> bool:
    """Whether the percentile kernel's level counts stay small.

    It counts the groups that sit side by side (`inner` of them) in one table of ``inner x (max +
    1)`` int64 per thread, unless its groups are small enough to sort (2·m < max + 1).
    """
    m = x.size if axes is None else math.prod(x.shape[a] for a in axes)
    inner = 1 if not axes else math.prod(x.shape[max(axes) + 1 :])
    levels = int(x.max()) + 1
    return 2 * m < levels or inner * levels <= 1 << 22


def _percentile_points(
    x: np.ndarray, axes: tuple[int, ...] | None, percentiles: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order statistics np.percentile (linear) interpolates between for groups over `axes`.

    Also the weights: ``(below, above, gamma)``, as numpy computes them.
    """
    m = x.size if axes is None else math.prod(x.shape[a] for a in axes)
    virtual = (m - 1) * np.true_divide(np.asarray(percentiles, np.float64), 100)
    below = np.clip(np.floor(virtual), 0, m - 1)
    above = np.where(virtual >= m - 1, m - 1, below + 1)
    below = np.where(virtual >= m - 1, m - 1, below)
    return below.astype(np.int64), above.astype(np.int64), virtual - below


def _value_cdf(g: np.ndarray) -> np.ndarray:
    """The cumulative share of the pixels at or below each pixel's value (float64).

    It is what ``equalize_hist`` gives with one bin per distinct value. Sorting the values, rather
    than counting over min … max, bounds the memory by the group's size for any range.
    """
    _, where, counts = np.unique(g, return_inverse=True, return_counts=True)
    cdf = counts.cumsum()
    return (cdf / float(cdf[-1]))[where.reshape(g.shape)]


def _equalize_group(g: np.ndarray, nbins: int) -> np.ndarray:
    """scikit-image ``equalize_hist`` of one group (a flat array).

    Integers get one bin per level (only the levels present are looked at). Floats get
    `nbins` bins over min … max, as scikit-image; a range too wide for its dtype (its span
    or the sum of two edges overflows) is binned at a quarter scale in float64 (the same
    bins, exactly), and one too narrow for `nbins` distinct edges (e.g. a constant 1e16)
    gets one bin per distinct value, as integers do.
    """
    if g.size == 0:
        return g.astype(np.float64)
    if g.dtype.kind == "f" and not np.isfinite(g).all():
        return np.full(g.shape, np.nan)
    if g.dtype.kind in "uib":
        return _value_cdf(g)
    lo, hi = g.min(), g.max()
    with np.errstate(over="ignore"):
        if not np.isfinite([hi - lo, hi + hi, lo + lo]).all():  # edges or their sums overflow
            g = g.astype(np.float64) * 0.25
            lo, hi = g.min(), g.max()
    try:
        hist, edges = np.histogram(g, bins=nbins, range=(lo, hi))  # edges in g's dtype
    except ValueError:  # no nbins finite-sized bins between lo and hi
        return _value_cdf(g)
    centers = (edges[:-1] + edges[1:]) / 2.0
    cdf = hist.cumsum()
    cdf = (cdf / float(cdf[-1])).astype(_float_out(g), copy=False)  # single precision in, out
    return cast(np.ndarray, np.interp(g, centers, cdf))


def equalize(x: np.ndarray, axes: tuple[int, ...] | None, nbins: int = 256) -> np.ndarray:
    """Histogram equalization of each group over `axes` (scikit-image ``equalize_hist``)."""
    if x.dtype in (np.uint8, np.uint16):
        fast = _compiled("equalize", x, axes, np.float64)
        if fast is not None:
            return fast
    out_dtype = _float_out(x)
    if axes is None:
        return _equalize_group(x.ravel(), nbins).reshape(x.shape).astype(out_dtype)
    kept = _kept(axes, x.ndim)
    moved = np.moveaxis(x, kept + axes, range(x.ndim))
    g = math.prod(x.shape[i] for i in kept)
    rows = moved.reshape(g, -1)
    out = np.empty(rows.shape, np.float64)
    for i in range(g):
        out[i] = _equalize_group(rows[i], nbins)
    back = out.reshape(moved.shape)
    return np.moveaxis(back, range(x.ndim), kept + axes).astype(out_dtype)


def meanstd(
    x: np.ndarray,
    roles: str | None,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    scale: float | None,
) -> np.ndarray:
    """(x / scale − mean) / std per channel of `roles`, in float32 as torchvision computes it."""
    if scale is None:
        scale = float(np.iinfo(x.dtype).max) if x.dtype.kind in "ui" else 1.0
    c_axis = roles.upper().index("C") if roles and "C" in roles.upper() else None
    channels = 1 if c_axis is None else x.shape[c_axis]
    if len(mean) != len(std):
        raise NormalizationError(f"mean has {len(mean)} values but std has {len(std)}")
    if len(mean) not in (1, channels):
        where = "no channel axis" if c_axis is None else f"{channels} channels"
        raise NormalizationError(
            f"mean and std have {len(mean)} values but the array has {where}; "
            f"give {channels} value{'s' if channels > 1 else ''}"
        )
    if any(s == 0 for s in std):
        raise NormalizationError(
            "std evaluated to zero, which torchvision refuses (division by zero)"
        )
    shape = [1] * x.ndim
    if c_axis is not None:
        shape[c_axis] = len(mean)
    m = np.asarray(mean, np.float32).reshape(shape)
    s = np.asarray(std, np.float32).reshape(shape)
    if x.dtype.kind in "uifb" and x.dtype.itemsize <= 4 and x.dtype != np.float16:
        per = np.broadcast_to(m.ravel(), (channels,)), np.broadcast_to(s.ravel(), (channels,))
        src, c_axes = (x[np.newaxis], (0,)) if c_axis is None else (x, (c_axis,))
        fast = _compiled(
            "mean_std", src, c_axes, np.float32, np.float32(scale), *map(np.ascontiguousarray, per)
        )
        if fast is not None:
            return fast.reshape(x.shape)
    with np.errstate(over="ignore", invalid="ignore"):  # as torch's x.float(): inf beyond
        t = x.astype(np.float32) / np.float32(scale)
        return (t - m) / s
