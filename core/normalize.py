"""Normalization methods and library presets, exact to the libraries people call.

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
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from normscope.core import engine as _engine
from normscope.core.dtypes import canonical
from normscope.core.roles import ROLE_WORDS, Axis, normalize_axis

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "METHODS",
    "PRESETS",
    "MethodInfo",
    "Normalization",
    "NormalizationError",
    "Preset",
    "count_nonfinite_groups",
    "from_preset",
    "normalize",
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

_STAT_WORDS = {
    "lp": "L{order} norm",
    "minmax": "minimum and maximum",
    "zscore": "mean and standard deviation",
    "percentile": "pair of percentiles",
    "equalize": "histogram",
}


def _order_text(order: float) -> str:
    return "∞" if math.isinf(order) else f"{order:g}"


def _float_out(x: np.ndarray) -> np.dtype:
    return np.dtype(np.float32) if x.dtype in (np.float16, np.float32) else np.dtype(np.float64)


def _kept(axes: tuple[int, ...] | None, ndim: int) -> tuple[int, ...]:
    return () if axes is None else tuple(i for i in range(ndim) if i not in axes)


# --- compiled paths ------------------------------------------------------------------------------


def _grouped(x: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray | None:
    """`x` as (outer, m, inner), each group's m values on the middle axis, for the compiled
    kernels; None when the reduced axes are not adjacent (numpy then does the work)."""
    if axes is None:
        return np.ascontiguousarray(x).reshape(1, -1, 1)
    axes = tuple(sorted(a % x.ndim for a in axes))
    if not axes or axes != tuple(range(axes[0], axes[-1] + 1)):
        return None
    shape = x.shape
    outer, inner = math.prod(shape[: axes[0]]), math.prod(shape[axes[-1] + 1 :])
    return np.ascontiguousarray(x).reshape(outer, math.prod(shape[i] for i in axes), inner)


def _compiled(
    kernel: str, x: np.ndarray, axes: tuple[int, ...] | None, dtype: type, *args: object
) -> np.ndarray | None:
    """``kernels.<kernel>(groups, *args, out, part)`` over row blocks on every thread, or None
    when numba is missing or the axes do not suit."""
    kernels = _engine.kernels()
    groups = None if kernels is None or x.size == 0 else _grouped(x, axes)
    if groups is None:
        return None
    out = np.empty(groups.shape, dtype)
    fn = getattr(kernels, kernel)
    _engine.in_parts(
        lambda o0, o1, *_: fn(groups, *args, out, (o0, o1)), _engine.row_parts(len(groups), 8)
    )
    return out.reshape(x.shape)


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
    return np.einsum("...i,...i->...", np.moveaxis(v, axis, -1), np.moveaxis(v, axis, -1))


def _divide_along(x: np.ndarray, norm: np.ndarray, axis: int) -> np.ndarray:
    """``x / np.expand_dims(norm, axis)`` in float64, one slice at a time for short axes."""
    if x.shape[axis] > 8:
        return x / np.expand_dims(norm, axis)
    out = np.empty(x.shape, np.float64)
    for i in range(x.shape[axis]):
        index = (slice(None),) * (axis % x.ndim) + (i,)
        np.divide(x[index], norm, out=out[index])
    return out


def _keras(x: np.ndarray, axis: Axis, order: float) -> np.ndarray:
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
                fast = _compiled("norm_divide", x, (axis,), np.float64, 2.0)
                if fast is not None:
                    return fast
                norm = np.atleast_1d(np.sqrt(_sum_of_squares(x, axis)))
                norm[norm == 0] = 1
                return _divide_along(x, norm, axis)
            norm = np.atleast_1d(np.linalg.norm(x, order, axis))
            norm[norm == 0] = 1
            return x / np.expand_dims(norm, axis)
    except (ValueError, TypeError) as exc:
        raise NormalizationError(f"Keras normalize rejects this call: {exc}") from exc


def _lp(x: np.ndarray, axes: tuple[int, ...] | None, order: float) -> np.ndarray:
    if order in (1, 2, math.inf) and _exact_sums(x, axes):
        fast = _compiled("norm_divide", x, axes, np.float64, float(order))
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


def _minmax(
    x: np.ndarray, axes: tuple[int, ...] | None, feature_range: tuple[float, float]
) -> np.ndarray:
    a, b = feature_range
    if x.dtype.kind in "uib" and x.dtype.itemsize <= 4:
        fast = _compiled("min_max", x, axes, np.float64, float(a), float(b))
        if fast is not None:
            return fast
    v = x.astype(np.float64)
    if v.size == 0:
        return v.astype(_float_out(x))
    lo = np.min(v, axis=axes, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):  # inf - inf is NaN
        span = np.max(v, axis=axes, keepdims=True) - lo
        out = (v - lo) / np.where(span == 0, 1.0, span) * (b - a) + a
    return out.astype(_float_out(x), copy=False)


def _dtype(x: np.ndarray) -> np.ndarray:
    if x.dtype.kind == "f":
        return x.copy()
    if x.dtype.kind == "b":
        return x.astype(np.float64)
    info = np.iinfo(x.dtype)
    out = x.astype(np.float64) * (1.0 / info.max)  # as scikit-image multiplies
    return np.maximum(out, -1.0) if info.min < 0 else out


def _zscore(x: np.ndarray, axes: tuple[int, ...] | None) -> np.ndarray:
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


def _percentile(
    x: np.ndarray, axes: tuple[int, ...] | None, percentiles: tuple[float, float]
) -> np.ndarray:
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
    return out.astype(_float_out(x), copy=False)


def _level_table_fits(x: np.ndarray, axes: tuple[int, ...] | None) -> bool:
    """Whether the percentile kernel's level counts stay small: it counts the groups that sit
    side by side (`inner` of them) in one table of ``inner x (max + 1)`` int64 per thread,
    unless its groups are small enough to sort (2·m < max + 1)."""
    m = x.size if axes is None else math.prod(x.shape[a] for a in axes)
    inner = 1 if not axes else math.prod(x.shape[max(axes) + 1 :])
    levels = int(x.max()) + 1
    return 2 * m < levels or inner * levels <= 1 << 22


def _percentile_points(
    x: np.ndarray, axes: tuple[int, ...] | None, percentiles: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order statistics np.percentile (linear) interpolates between for groups over
    `axes`, and the weights: ``(below, above, gamma)``, as numpy computes them."""
    m = x.size if axes is None else math.prod(x.shape[a] for a in axes)
    virtual = (m - 1) * np.true_divide(np.asarray(percentiles, np.float64), 100)
    below = np.clip(np.floor(virtual), 0, m - 1)
    above = np.where(virtual >= m - 1, m - 1, below + 1)
    below = np.where(virtual >= m - 1, m - 1, below)
    return below.astype(np.int64), above.astype(np.int64), virtual - below


def _value_cdf(g: np.ndarray) -> np.ndarray:
    """The cumulative share of the pixels at or below each pixel's value (float64): what
    ``equalize_hist`` gives with one bin per distinct value. Sorting the values, rather than
    counting over min … max, bounds the memory by the group's size for any range."""
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
    return np.interp(g, centers, cdf)


def _equalize(x: np.ndarray, axes: tuple[int, ...] | None, nbins: int = 256) -> np.ndarray:
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


def _meanstd(
    x: np.ndarray,
    roles: str | None,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    scale: float | None,
) -> np.ndarray:
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


#: The orders np.linalg.norm takes for a matrix norm (a 2-tuple axis), as numbers.
_MATRIX_ORDERS = (1.0, -1.0, 2.0, -2.0, math.inf, -math.inf)


def _check_order(method: str, axis: object, order: float) -> None:
    """Refuse an `order` the method cannot compute, in one sentence.

    ``keras`` runs ``np.linalg.norm(x, order, axis)`` itself, so it takes what numpy takes:
    over one axis any number or ±inf (0 counts the non-zero values, negative orders give
    numpy's generalized means), over two axes a matrix norm (1, 2, inf and their negatives);
    ``lp`` takes 1, 2 or inf; NaN is refused everywhere, since it makes every value NaN.
    """
    try:
        value = float(order)
    except (TypeError, ValueError):
        raise NormalizationError(f"the norm order must be a number, not {order!r}") from None
    if math.isnan(value):
        raise NormalizationError(
            "the norm order is NaN, which makes every value NaN; use 1, 2 or inf"
        )
    if method == "lp" and value not in (1, 2, math.inf):
        raise NormalizationError(f"the lp method takes order 1, 2 or inf, not {order!r}")
    if method == "keras" and isinstance(axis, tuple) and len(axis) == 2:
        if value not in _MATRIX_ORDERS:
            raise NormalizationError(
                f"Keras normalize over two axes computes a matrix norm (np.linalg.norm), which "
                f"takes order 1, 2, inf, -1, -2 or -inf, not {order!r}"
            )


def _run_method(n: Normalization, x: np.ndarray, roles: str | None) -> np.ndarray:
    axes = n.resolved_axis(x.ndim)
    match n.method:
        case "keras":
            return _keras(x, _keras_axis(n.axis, x.ndim), n.order)
        case "lp":
            return _lp(x, axes, n.order)
        case "minmax":
            return _minmax(x, axes, n.feature_range)
        case "dtype":
            return _dtype(x)
        case "zscore":
            return _zscore(x, axes)
        case "percentile":
            return _percentile(x, axes, n.percentiles)
        case "equalize":
            return _equalize(x, axes)
        case "meanstd":
            return _meanstd(x, roles, n.mean, n.std, n.scale)
    raise NormalizationError(f"unknown method {n.method!r}: use one of {', '.join(METHODS)}")


def _keras_axis(axis: Any, ndim: int) -> Any:
    """The axis exactly as the user would pass it to Keras (int stays int, tuple stays tuple)."""
    if axis == "default":
        return -1
    if axis is None or isinstance(axis, int):
        if isinstance(axis, int):
            normalize_axis(axis, ndim)
        return axis
    tup = tuple(axis)
    normalize_axis(tup, ndim)
    return tup[0] if len(tup) == 1 else tup


# --- presets -------------------------------------------------------------------------------------


def _sample_axis(roles: str) -> int:
    """The axis scikit-learn treats as samples: N for a batch, else the rows of one image."""
    return roles.index("N") if "N" in roles else roles.index("H")


def _as_samples(x: np.ndarray, roles: str) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """x as the 2-D (samples, features) matrix scikit-learn sees, and the way back."""
    s = _sample_axis(roles)
    moved = np.moveaxis(x, s, 0)
    shape = moved.shape

    def back(m: np.ndarray) -> np.ndarray:
        return np.moveaxis(m.reshape(shape), 0, s)

    return moved.reshape(shape[0], -1), back


def _sk_float(x: np.ndarray) -> np.ndarray:
    """scikit-learn's check_array: float64, float32 and float16 kept, anything else float64."""
    return x.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=True)


def _zeros_to_one(scale: np.ndarray) -> np.ndarray:
    scale = scale.copy()
    scale[scale < 10 * np.finfo(scale.dtype).eps] = 1.0
    return scale


def _sk_normalize(norm: str) -> Callable[[np.ndarray, str], np.ndarray]:
    def run(x: np.ndarray, roles: str) -> np.ndarray:
        m, back = _as_samples(x, roles)
        m = _sk_float(m)
        if norm == "l1":
            norms = np.sum(np.abs(m), axis=1)
        elif norm == "l2":
            norms = np.sqrt(np.einsum("ij,ij->i", m, m))
        else:
            norms = np.max(np.abs(m), axis=1)
        m /= _zeros_to_one(norms)[:, None]
        return back(m)

    return run


def _minmax_fit(m: np.ndarray) -> np.ndarray:
    """MinMaxScaler().fit_transform(m) for a float matrix, step by step as scikit-learn does."""
    with np.errstate(invalid="ignore"):
        data_min = np.nanmin(m, axis=0)
        data_max = np.nanmax(m, axis=0)
    scale = (1.0 - 0.0) / _zeros_to_one(data_max - data_min)
    offset = 0.0 - data_min * scale
    m *= scale
    m += offset
    return m


def _sk_minmax_scaler(x: np.ndarray, roles: str) -> np.ndarray:
    m, back = _as_samples(x, roles)
    return back(_minmax_fit(_sk_float(m)))


def _sk_minmax_scale_rows(x: np.ndarray, roles: str) -> np.ndarray:
    m, back = _as_samples(x, roles)
    return back(_minmax_fit(_sk_float(m).T.copy()).T)


def _sk_standard_scaler(x: np.ndarray, roles: str) -> np.ndarray:
    m, back = _as_samples(x, roles)
    m = _sk_float(m)
    n = m.shape[0]
    acc = np.float64
    total = np.nansum(m, axis=0, dtype=acc)
    mean = total / n
    temp = m - mean
    correction = np.nansum(temp, axis=0, dtype=acc)
    temp **= 2
    var = (np.nansum(temp, axis=0, dtype=acc) - correction**2 / n) / n
    eps = np.finfo(np.float64).eps
    constant = var <= n * eps * var + (n * mean * eps) ** 2
    scale = np.sqrt(var)
    scale[constant | (scale < 10 * eps)] = 1.0
    m -= mean.astype(m.dtype)
    m /= scale.astype(m.dtype)
    return back(m)


def _torchvision(x: np.ndarray, roles: str) -> np.ndarray:
    scale = 255.0 if x.dtype == np.uint8 else 1.0  # ToTensor scales only uint8
    return _meanstd(x, roles, IMAGENET_MEAN, IMAGENET_STD, scale)


def _per_image(x: np.ndarray, roles: str, fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Apply an image function to each image of a batch (or to the one image)."""
    if "N" not in roles:
        return fn(x)
    n = roles.index("N")
    return np.stack([fn(np.take(x, i, axis=n)) for i in range(x.shape[n])], axis=n)


def _albu_standard(x: np.ndarray, roles: str) -> np.ndarray:
    def one(img: np.ndarray) -> np.ndarray:
        c = img.shape[-1] if img.ndim == 3 else 1
        mean = np.array(IMAGENET_MEAN, np.float32) * 255.0
        den = np.reciprocal(np.array(IMAGENET_STD, np.float32) * 255.0)
        if c != 3:
            mean, den = mean[:1], den[:1]
        if img.dtype == np.uint8:
            lut = (np.arange(256, dtype=np.float32) - mean.reshape(-1, 1)) * den.reshape(-1, 1)
            if img.ndim == 2:
                return lut[0][img]
            return np.stack([lut[i][img[..., i]] for i in range(c)], axis=-1)
        f = img.astype(np.float32)
        return (f - (mean if img.ndim == 3 else mean[0])) * (den if img.ndim == 3 else den[0])

    return _per_image(x, roles, one)


def _albu_per_image(mode: str) -> Callable[[np.ndarray, str], np.ndarray]:
    eps = 1e-4

    def one(img: np.ndarray) -> np.ndarray:
        per_channel = mode.endswith("per_channel") and img.ndim == 3 and img.shape[-1] > 1
        axes = (0, 1) if per_channel else None
        if img.dtype == np.uint8:  # the LUT path: float64 statistics, float64 table
            levels = np.arange(256, dtype=np.float32)
            if mode.startswith("image"):
                a = img.mean(axis=axes)
                d = img.std(axis=axes) + eps
            else:
                a = img.min(axis=axes)
                d = img.max(axis=axes) - a + eps
            if per_channel:
                luts = [(levels - a[c]) / d[c] for c in range(img.shape[-1])]
                out = np.stack([luts[c][img[..., c]] for c in range(img.shape[-1])], axis=-1)
                return out if mode == "min_max_per_channel" else out.clip(-20, 20)
            return ((levels - a) / d)[img].clip(-20, 20)
        f = img.astype(np.float32)
        if mode.startswith("image"):  # OpenCV path; cv2.meanStdDev per channel adds no eps
            a = f.mean(axis=axes, dtype=np.float64)
            d = f.std(axis=axes, dtype=np.float64) + (0.0 if per_channel else eps)
            return np.clip((f - a.astype(np.float32)) / d.astype(np.float32), -20, 20)
        lo, hi = f.min(axis=axes), f.max(axis=axes)
        if per_channel:
            return np.clip((f - lo) / (hi - lo + eps), -20, 20)
        span = hi - lo
        return (f - lo) * (np.float32(1.0) / span) if span > 0 else np.zeros_like(f)

    return lambda x, roles: _per_image(x, roles, one)


def _cv2_norm(kind: str) -> Callable[[np.ndarray, str], np.ndarray]:
    """``cv2.normalize(x, None, alpha, beta, kind, dtype=cv2.CV_32F)`` over the whole array."""

    def run(x: np.ndarray, roles: str) -> np.ndarray:
        v = x.astype(np.float64)
        if kind == "minmax":
            lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
            scale = 1.0 / (hi - lo) if hi - lo > np.finfo(np.float64).eps else 0.0
            shift = -lo * scale
        else:
            norm = {
                "l1": lambda: float(np.abs(v).sum()),
                "l2": lambda: float(np.sqrt((v * v).sum())),
                "inf": lambda: float(np.abs(v).max()) if v.size else 0.0,
            }[kind]()
            scale = 1.0 / norm if norm > np.finfo(np.float64).eps else 0.0
            shift = 0.0
        return (v * scale + shift).astype(np.float32)

    return run


def _skimage_rescale(x: np.ndarray, roles: str) -> np.ndarray:
    v = x
    if v.size == 0:
        return v.copy()
    imin, imax = float(np.min(v)), float(np.max(v))
    if v.dtype.kind in "ui":
        omin, omax = float(np.iinfo(v.dtype).min), float(np.iinfo(v.dtype).max)
    elif v.dtype.kind == "b":
        omin, omax = 0.0, 1.0
    else:
        omin, omax = (0.0 if imin >= 0 else -1.0), 1.0
    if math.isnan(imin) or math.isnan(imax):
        return np.full(v.shape, np.nan, dtype=v.dtype if v.dtype.kind == "f" else np.float64)
    clipped = np.clip(v, imin, imax)
    if imin != imax:
        clipped = (clipped - imin) / (imax - imin)
        return np.asarray(clipped * (omax - omin) + omin, dtype=v.dtype)
    return np.clip(clipped, omin, omax).astype(v.dtype)


@dataclass(frozen=True)
class Preset:
    """One call from a library, mapped to a method and axis, with its exact computation."""

    name: str
    label: str
    library: str
    method: str
    axis: Callable[[str], Axis]
    run: Callable[[np.ndarray, str], np.ndarray]
    code: Callable[[str], str]


def _all_but(role: str) -> Callable[[str], Axis]:
    return lambda roles: tuple(i for i, r in enumerate(roles) if i != _sample_axis(roles))


def _samples(roles: str) -> Axis:
    return (_sample_axis(roles),)


def _image_axes(roles: str) -> Axis:
    return tuple(i for i, r in enumerate(roles) if r != "N")


def _plane_axes(roles: str) -> Axis:
    return (
        tuple(i for i, r in enumerate(roles) if r in "HW") if "C" in roles else _image_axes(roles)
    )


def _sk_reshape(roles: str) -> str:
    return "X = x.reshape(len(x), -1)" if "N" in roles else "X = x.reshape(x.shape[0], -1)"


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in [
        Preset("keras.normalize", "tf.keras.utils.normalize(x, axis=1)", "keras", "keras",
               lambda roles: 1, lambda x, roles: _keras(x, 1, 2),
               lambda roles: "x = tf.keras.utils.normalize(x, axis=1)"),
        *[
            Preset(f"sklearn.normalize.{norm}", f"sklearn normalize(X, norm='{norm}')", "sklearn",
                   "lp", _all_but("N"), _sk_normalize(norm),
                   lambda roles, norm=norm: f"{_sk_reshape(roles)}; X = sklearn.preprocessing."
                   f"normalize(X, norm='{norm}')")
            for norm in ("l1", "l2", "max")
        ],
        Preset("sklearn.MinMaxScaler", "sklearn MinMaxScaler().fit_transform(X)", "sklearn",
               "minmax", _samples, _sk_minmax_scaler,
               lambda roles: f"{_sk_reshape(roles)}; X = MinMaxScaler().fit_transform(X)"),
        Preset("sklearn.StandardScaler", "sklearn StandardScaler().fit_transform(X)", "sklearn",
               "zscore", _samples, _sk_standard_scaler,
               lambda roles: f"{_sk_reshape(roles)}; X = StandardScaler().fit_transform(X)"),
        Preset("sklearn.minmax_scale", "sklearn minmax_scale(X, axis=1)", "sklearn", "minmax",
               _all_but("N"), _sk_minmax_scale_rows,
               lambda roles: f"{_sk_reshape(roles)}; X = minmax_scale(X, axis=1)"),
        Preset("torchvision.Normalize", "torchvision ToTensor + Normalize(ImageNet)",
               "torchvision", "meanstd", lambda roles: None, _torchvision,
               lambda roles: "x = T.Normalize(mean=[0.485, 0.456, 0.406], "
               "std=[0.229, 0.224, 0.225])(T.ToTensor()(x))"),
        Preset("albumentations.standard", "albumentations Normalize() (ImageNet, standard)",
               "albumentations", "meanstd", lambda roles: None, _albu_standard,
               lambda roles: "x = A.Normalize()(image=x)['image']"),
        *[
            Preset(f"albumentations.{mode}", f"albumentations Normalize(normalization='{mode}')",
                   "albumentations", "zscore" if mode.startswith("image") else "minmax",
                   _plane_axes if mode.endswith("per_channel") else _image_axes,
                   _albu_per_image(mode),
                   lambda roles, mode=mode: f"x = A.Normalize(normalization='{mode}')"
                   "(image=x)['image']")
            for mode in ("image", "image_per_channel", "min_max", "min_max_per_channel")
        ],
        Preset("cv2.NORM_MINMAX", "cv2.normalize(x, None, 0, 1, NORM_MINMAX, CV_32F)", "opencv",
               "minmax", lambda roles: None, _cv2_norm("minmax"),
               lambda roles: "x = cv2.normalize(x, None, 0, 1, cv2.NORM_MINMAX, cv2.CV_32F)"),
        *[
            Preset(f"cv2.NORM_{k.upper()}",
                   f"cv2.normalize(x, None, 1, 0, NORM_{k.upper()}, CV_32F)",
                   "opencv", "lp", lambda roles: None, _cv2_norm(k),
                   lambda roles, k=k: f"x = cv2.normalize(x, None, 1, 0, cv2.NORM_{k.upper()}, "
                   "cv2.CV_32F)")
            for k in ("l1", "l2", "inf")
        ],
        Preset("skimage.rescale_intensity", "skimage exposure.rescale_intensity(x)", "skimage",
               "minmax", lambda roles: None, _skimage_rescale,
               lambda roles: "x = skimage.exposure.rescale_intensity(x)"),
        Preset("skimage.equalize_hist", "skimage exposure.equalize_hist(x)", "skimage",
               "equalize", lambda roles: None, lambda x, roles: _equalize(x, None),
               lambda roles: "x = skimage.exposure.equalize_hist(x)"),
    ]
}  # fmt: skip


# --- the public object ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Normalization:
    """A normalization call: method, axes and options, or a library preset.

    Examples
    --------
    >>> x = np.array([[[1, 10], [0, 10]]], np.uint8)
    >>> Normalization(method="keras", axis=1).apply(x, roles="NHW")
    array([[[1.        , 0.70710678],
            [0.        , 0.70710678]]])
    >>> print(Normalization(method="keras", axis=1).describe((60000, 28, 28), "NHW"))
    one L2 norm per image and column: 1,680,000 groups of 28 pixels; every column of every
    image is scaled by its own factor
    """

    method: str = "keras"
    axis: int | tuple[int, ...] | Literal["default"] | None = "default"
    order: float = 2
    feature_range: tuple[float, float] = (0.0, 1.0)
    percentiles: tuple[float, float] = (2.0, 98.0)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    scale: float | None = None
    preset: str | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise NormalizationError(
                f"unknown method {self.method!r}: use one of {', '.join(METHODS)}"
            )
        if self.preset is not None and self.preset not in PRESETS:
            raise NormalizationError(
                f"unknown preset {self.preset!r}: use one of {', '.join(PRESETS)}"
            )
        if isinstance(self.axis, list):
            object.__setattr__(self, "axis", tuple(self.axis))
        _check_order(self.method, self.axis, self.order)

    def with_(self, **changes: Any) -> Normalization:
        return replace(self, **changes)

    def resolved_axis(self, ndim: int) -> tuple[int, ...] | None:
        """The reduced axes as a sorted tuple of non-negative ints, or None for the whole array."""
        axis = METHODS[self.method].default_axis if self.axis == "default" else self.axis
        return normalize_axis(axis, ndim)

    def apply(self, image: np.ndarray, *, roles: str | None = None) -> np.ndarray:
        """Normalize `image` (never changed); see the module table for the output dtype.

        The array is first put in canonical form (:func:`core.dtypes.canonical`): native
        byte order, 0/1 bools, longdouble as float64.
        """
        x = canonical(image)
        if x.dtype.kind not in "uifb":
            raise NormalizationError(f"cannot normalize {x.dtype} data")
        if self.preset is not None:
            from normscope.core.roles import infer_roles

            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                return PRESETS[self.preset].run(x, roles or infer_roles(x.shape))
        return _run_method(self, x, roles)

    def describe(self, shape: tuple[int, ...], roles: str) -> str:
        """What this call computes for an array of `shape`, in the user's words."""
        size = math.prod(shape)
        label = f"{PRESETS[self.preset].label}: " if self.preset is not None else ""
        if self.method == "dtype":
            return label + (
                "every pixel divided by its dtype's maximum (255 for uint8, 65535 for uint16); "
                "one fixed factor, so ranks are kept everywhere"
            )
        if self.method == "meanstd":
            return label + (
                "fixed constants per channel: (x / scale − mean) / std, the same for every "
                "image; ranks are kept within each channel"
            )
        axes = self.resolved_axis(len(shape))
        if self.method == "keras":
            stat = f"L{_order_text(self.order)} norm"
            if axes is not None and len(axes) == 2:
                stat = (
                    f"matrix {_order_text(self.order)}-norm (for order 2 the largest singular "
                    "value, not the Frobenius norm)"
                )
        else:
            stat = _STAT_WORDS[self.method].format(order=_order_text(self.order))
        if axes is None or len(axes) == len(shape):
            text = (
                f"one {stat} for the whole array: 1 group of {size:,} pixels; every pixel is "
                "scaled by the same factor"
            )
        else:
            kept = _kept(axes, len(shape))
            groups = math.prod(shape[i] for i in kept)
            per = math.prod(shape[i] for i in axes)
            kept_words = [ROLE_WORDS[roles[i]][1] for i in kept]
            if "N" in (roles[i] for i in axes) and any(roles[i] in "HW" for i in kept):
                n = shape[roles.index("N")]
                text = (
                    f"one {stat} per {' and '.join(kept_words)} across {n:,} images: "
                    f"{groups:,} groups of {per:,} pixels; each pixel position is scaled by "
                    "its own factor, shared by all images"
                )
            else:
                every = " of ".join(f"every {w}" for w in reversed(kept_words))
                text = (
                    f"one {stat} per {' and '.join(kept_words)}: {groups:,} groups of {per:,} "
                    f"pixel{'s' if per != 1 else ''}; {every} is scaled by its own factor"
                )
        if self.preset is not None:
            text = f"{PRESETS[self.preset].label}: {text}"
        if self.method == "keras" and self.preset is None:
            text += self._keras3_note(shape)
        return text

    def _keras3_note(self, shape: tuple[int, ...]) -> str:
        if self.axis != 0 and self.axis != (0,):
            return ""
        reduced = shape[1:]
        try:
            np.broadcast_shapes(shape, (*reduced, 1))
        except ValueError:
            return " (Keras 3 up to 3.15.1 turns axis=0 into -1 here and raises ValueError)"
        return " (Keras 3 up to 3.15.1 turns axis=0 into -1 and silently returns something else)"

    def code(self, roles: str) -> str:
        """The equivalent line of code in the library the user calls."""
        if self.preset is not None:
            return PRESETS[self.preset].code(roles)
        ndim = len(roles)
        axis = self.resolved_axis(ndim)
        a = "None" if axis is None else str(axis[0]) if len(axis) == 1 else str(axis)
        order = "np.inf" if math.isinf(self.order) else f"{self.order:g}"
        match self.method:
            case "keras":
                keras_axis = _keras_axis(self.axis, ndim)
                return f"x = tf.keras.utils.normalize(x, axis={keras_axis}, order={order})"
            case "lp":
                return f"x = x / np.linalg.norm(x, ord={order}, axis={a}, keepdims=True)  # 0 -> 1"
            case "minmax":
                return (
                    f"lo, hi = x.min(axis={a}, keepdims=True), x.max(axis={a}, keepdims=True); "
                    "x = (x - lo) / (hi - lo)"
                )
            case "dtype":
                return "x = skimage.util.img_as_float(x)"
            case "zscore":
                return f"x = (x - x.mean(axis={a}, keepdims=True)) / x.std(axis={a}, keepdims=True)"
            case "percentile":
                lo, hi = self.percentiles
                return (
                    f"lo, hi = np.percentile(x, ({lo:g}, {hi:g}), axis={a}, keepdims=True); "
                    "x = (np.clip(x, lo, hi) - lo) / (hi - lo)"
                )
            case "equalize":
                return "x = skimage.exposure.equalize_hist(x)" + (
                    "" if axis is None else f"  # per group over axis {a}"
                )
        mean = ", ".join(f"{v:g}" for v in self.mean)
        std = ", ".join(f"{v:g}" for v in self.std)
        return f"x = T.Normalize(mean=[{mean}], std=[{std}])(T.ToTensor()(x))"


def from_preset(name: str, roles: str) -> Normalization:
    """The :class:`Normalization` a library preset means for an array with `roles`.

    Examples
    --------
    >>> from_preset("sklearn.MinMaxScaler", "NHW").resolved_axis(3)
    (0,)
    """
    if name not in PRESETS:
        raise NormalizationError(f"unknown preset {name!r}: use one of {', '.join(PRESETS)}")
    p = PRESETS[name]
    return Normalization(method=p.method, axis=p.axis(roles.upper()), preset=name)


def normalize(
    image: np.ndarray,
    method: str = "keras",
    *,
    axis: Axis | str = "default",
    order: float = 2,
    roles: str | None = None,
    **options: Any,
) -> np.ndarray:
    """Normalize `image` with `method` over `axis`: the function form of :class:`Normalization`.

    Examples
    --------
    >>> normalize(np.array([[0, 5, 10], [2, 2, 2]]), "minmax", axis=1)
    array([[0. , 0.5, 1. ],
           [0. , 0. , 0. ]])
    """
    return Normalization(method=method, axis=axis, order=order, **options).apply(image, roles=roles)


def count_nonfinite_groups(image: np.ndarray, *, axis: Axis) -> int:
    """How many groups (over `axis`) hold a NaN or an infinity.

    Examples
    --------
    >>> count_nonfinite_groups(np.array([[1.0, np.nan], [2.0, 3.0]]), axis=1)
    1
    """
    x = canonical(image)
    if x.dtype.kind != "f" or x.size == 0:
        return 0
    bad = ~np.isfinite(x)
    axes = normalize_axis(axis, x.ndim)
    return int(np.count_nonzero(np.any(bad, axis=axes)))
