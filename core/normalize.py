"""A normalization call as one object: method, axes and options, or a library preset.

:class:`Normalization` validates the call, applies it (:mod:`core.methods` computes the eight
methods, :mod:`core.presets` the library calls) and says in words and in code what it does.
``axis`` means what it means in numpy and ``tf.keras.utils.normalize``: the axes a statistic
is computed **over** (reduced); an int, a tuple, None for the whole array, or
:data:`core.roles.DEFAULT_AXIS` for the method's own default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from normscope.core import methods
from normscope.core.batchstats import BatchStats
from normscope.core.dtypes import canonical
from normscope.core.methods import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    METHODS,
    MethodInfo,
    NormalizationError,
)
from normscope.core.presets import PRESETS, Preset
from normscope.core.roles import (
    DEFAULT_AXIS,
    ROLE_WORDS,
    Axis,
    AxisChoice,
    infer_roles,
    normalize_axis,
)

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

_STAT_WORDS = {
    "lp": "L{order} norm",
    "minmax": "minimum and maximum",
    "zscore": "mean and standard deviation",
    "percentile": "pair of percentiles",
    "equalize": "histogram",
}


def _order_text(order: float) -> str:
    return "∞" if math.isinf(order) else f"{order:g}"


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


def _run_method(
    n: Normalization, x: np.ndarray, roles: str | None, spare: np.ndarray | None
) -> np.ndarray:
    axes = n.resolved_axis(x.ndim)
    match n.method:
        case "keras":
            return methods.keras(x, _keras_axis(n.axis, x.ndim), n.order, spare)
        case "lp":
            return methods.lp(x, axes, n.order, spare)
        case "minmax":
            return methods.minmax(x, axes, n.feature_range, spare)
        case "dtype":
            return methods.dtype_max(x)
        case "zscore":
            return methods.zscore(x, axes, spare)
        case "percentile":
            return methods.percentile(x, axes, n.percentiles)
        case "equalize":
            return methods.equalize(x, axes)
        case _:  # "meanstd": __post_init__ let no other name through
            return methods.meanstd(x, roles, n.mean, n.std, n.scale)


def _keras_axis(axis: AxisChoice, ndim: int) -> int | tuple[int, ...] | None:
    """The axis exactly as the user would pass it to Keras (int stays int, tuple stays tuple)."""
    if axis == DEFAULT_AXIS:
        return -1
    if axis is None or isinstance(axis, int):
        if isinstance(axis, int):
            normalize_axis(axis, ndim)
        return axis
    tup = tuple(axis)
    normalize_axis(tup, ndim)
    return tup[0] if len(tup) == 1 else tup


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
    axis: AxisChoice = DEFAULT_AXIS
    order: float = 2
    feature_range: tuple[float, float] = (0.0, 1.0)
    percentiles: tuple[float, float] = (2.0, 98.0)
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    scale: float | None = None
    preset: str | None = None
    batch: BatchStats | None = None

    def __post_init__(self) -> None:
        """Refuse an unknown method or preset and an order the method cannot compute."""
        if self.batch is not None and self.preset is not None:
            raise NormalizationError("a library preset cannot take a dataset's statistics")
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
        """A copy with `changes` made (checked as a new call is)."""
        return replace(self, **changes)

    def needs_whole_array(self, roles: str) -> bool:
        """Whether one image's result depends on the other images of the batch.

        True too when there is no batch: either way an image cannot be normalized on its own.

        Examples
        --------
        >>> Normalization(method="zscore", axis=(1, 2)).needs_whole_array("NHW")
        False
        >>> Normalization(method="zscore", axis=0).needs_whole_array("NHW")
        True
        """
        if "N" not in roles:
            return True
        if not METHODS[self.method].uses_axis:
            return False
        axis = self.resolved_axis(len(roles))
        return axis is None or roles.index("N") in axis

    def resolved_axis(self, ndim: int) -> tuple[int, ...] | None:
        """The reduced axes as a sorted tuple of non-negative ints, or None for the whole array."""
        axis = METHODS[self.method].default_axis if self.axis == DEFAULT_AXIS else self.axis
        return normalize_axis(axis, ndim)

    def apply(
        self, image: np.ndarray, *, roles: str | None = None, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Normalize `image` (never changed); see the module table for the output dtype.

        The array is first put in canonical form (:func:`core.dtypes.canonical`): native
        byte order, 0/1 bools, longdouble as float64. `out`, a spare array the caller no
        longer reads, may be written over and returned (reshaped) instead of a new array: by
        the compiled keras, lp, min-max and z-score, when it is C-contiguous with the result's
        dtype and size. The result's bits are the same either way.

        Examples
        --------
        >>> spare = np.empty(4)
        >>> Normalization(method="minmax", axis=None).apply(np.arange(4), out=spare).tolist()
        [0.0, 0.3333333333333333, 0.6666666666666666, 1.0]
        """
        x = canonical(image)
        if x.dtype.kind not in "uifb":
            raise NormalizationError(f"cannot normalize {x.dtype} data")
        if self.batch is not None:
            return self._apply_batch(x, roles or infer_roles(x.shape))
        if self.preset is not None:
            with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
                return PRESETS[self.preset].run(x, roles or infer_roles(x.shape))
        return _run_method(self, x, roles, out)

    def _apply_batch(self, x: np.ndarray, roles: str) -> np.ndarray:
        """One image (no N) normalized with the dataset's statistics in :attr:`batch`.

        :attr:`axis` counts the axes of ``"N" + roles``: ``axis=(0, 1, 2)`` of an HWC image is
        over N, H and W.

        Examples
        --------
        >>> from normscope.core.dataset import ArrayDataset
        >>> from normscope.core.dataset_norm import dataset_batch_stats
        >>> x = np.array([[[0, 2]], [[4, 6]]], np.uint8)
        >>> b = dataset_batch_stats(ArrayDataset(x, roles="NHW"), "N")
        >>> Normalization(method="zscore", axis=0, batch=b).apply(x[1], roles="HW")
        array([[1., 1.]])
        """
        batch = self.batch
        assert batch is not None
        axes = self.resolved_axis(len(roles) + 1)
        over = "N" + roles if axes is None else "".join(("N" + roles)[a] for a in axes)
        batch.check(roles, over)
        return batch.apply(
            x, self.method, roles=roles, order=self.order, feature_range=self.feature_range
        )

    def describe(self, shape: tuple[int, ...], roles: str) -> str:
        """What this call computes for an array of `shape`, in the user's words.

        With dataset statistics (:attr:`batch`): which ones, and from how many images.
        """
        if self.batch is not None:
            return self.batch.words(self.method)
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
            kept = tuple(i for i in range(len(shape)) if i not in axes)
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
        """The equivalent line of code in the library the user calls.

        With dataset statistics (:attr:`batch`) and image `roles` (no N), the line for the
        whole dataset as one array ``x``, N first.
        """
        if self.preset is not None:
            return PRESETS[self.preset].code_for(roles)
        if self.batch is not None and "N" not in roles:
            return replace(self, batch=None).code("N" + roles) + "  # x: the whole dataset"
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
    return Normalization(method=p.method, axis=p.axes(roles.upper()), preset=name)


def normalize(
    image: np.ndarray,
    method: str = "keras",
    *,
    axis: AxisChoice = DEFAULT_AXIS,
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
