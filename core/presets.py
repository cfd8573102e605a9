"""Library presets: one call of a library, mapped to a method and axes, computed exactly.

Each preset is registered with :func:`_preset` on the function that computes it, bit for bit
as the library does (``tests/core/test_normalize.py`` compares every one with the library
itself). :data:`PRESETS` keeps them in the order they are registered, which is the order the
window lists them in.

Examples
--------
>>> p = PRESETS["sklearn.MinMaxScaler"]
>>> p.library, p.method, p.axes("NHW")
('sklearn', 'minmax', (0,))
>>> p.code_for("NHW")
'X = x.reshape(len(x), -1); X = MinMaxScaler().fit_transform(X)'
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import numpy as np

from normscope.core.methods import IMAGENET_MEAN, IMAGENET_STD, equalize, keras, meanstd
from normscope.core.roles import AxisChoice

__all__ = ["PRESETS", "Preset"]

Run = Callable[[np.ndarray, str], np.ndarray]


@dataclass(frozen=True, kw_only=True)
class Preset:
    """One call from a library, mapped to a method and axes, with its exact computation.

    Attributes
    ----------
    name : str
        The key in :data:`PRESETS`, e.g. ``"sklearn.MinMaxScaler"``.
    label : str
        The call as the user would write it, for menus and descriptions.
    library : str
        The library that makes the call.
    method : str
        The method of :data:`core.methods.METHODS` that computes the same grouping.
    axes : callable
        The axes that method reduces, given the array's roles.
    run : callable
        ``run(x, roles)``: the library's exact result for `x`.
    code : str
        The library's line of code; ``{reshape}`` stands for scikit-learn's 2-D reshape.
    """

    name: str
    label: str
    library: str
    method: str
    axes: Callable[[str], AxisChoice]
    run: Run
    code: str

    def code_for(self, roles: str) -> str:
        """The library's line of code for an array with `roles`."""
        reshape = "X = x.reshape(len(x), -1)" if "N" in roles else "X = x.reshape(x.shape[0], -1)"
        return self.code.format(reshape=reshape)


PRESETS: dict[str, Preset] = {}


def _preset(
    name: str,
    label: str,
    *,
    library: str,
    method: str,
    axes: Callable[[str], AxisChoice],
    code: str,
) -> Callable[[Run], Run]:
    """Register the decorated ``run(x, roles)`` as the preset `name`."""

    def register(run: Run) -> Run:
        PRESETS[name] = Preset(
            name=name, label=label, library=library, method=method, axes=axes, run=run, code=code
        )
        return run

    return register


# --- axis rules: the axes a preset's method reduces, by the array's roles ----------------------


def _whole(roles: str) -> AxisChoice:
    """The whole array: one group."""
    return None


def _keras_axis_1(roles: str) -> AxisChoice:
    """Axis 1, whatever it holds, as the tutorial's ``axis=1``."""
    return 1


def _sample_axis(roles: str) -> int:
    """The axis scikit-learn treats as samples: N for a batch, else the rows of one image."""
    return roles.index("N") if "N" in roles else roles.index("H")


def _samples(roles: str) -> AxisChoice:
    """Over the samples: one group per feature (a scaler's fit)."""
    return (_sample_axis(roles),)


def _features(roles: str) -> AxisChoice:
    """Over everything but the samples: one group per sample (a row of scikit-learn's X)."""
    return tuple(i for i in range(len(roles)) if i != _sample_axis(roles))


def _image_axes(roles: str) -> AxisChoice:
    """Over each image."""
    return tuple(i for i, r in enumerate(roles) if r != "N")


def _plane_axes(roles: str) -> AxisChoice:
    """Over each image's channel plane (each image when it has no channels)."""
    return (
        tuple(i for i, r in enumerate(roles) if r in "HW") if "C" in roles else _image_axes(roles)
    )


# --- the computations ------------------------------------------------------------------------


def _as_samples(x: np.ndarray, roles: str) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """The 2-D (samples, features) matrix scikit-learn sees of `x`, and the way back."""
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
    return meanstd(x, roles, IMAGENET_MEAN, IMAGENET_STD, scale)


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
                return cast(np.ndarray, lut[0][img])
            return np.stack([lut[i][img[..., i]] for i in range(c)], axis=-1)
        f = img.astype(np.float32)
        shifted = f - (mean if img.ndim == 3 else mean[0])
        return cast(np.ndarray, shifted * (den if img.ndim == 3 else den[0]))

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
            return cast(np.ndarray, ((levels - a) / d)[img].clip(-20, 20))
        f = img.astype(np.float32)
        if mode.startswith("image"):  # OpenCV path; cv2.meanStdDev per channel adds no eps
            a = f.mean(axis=axes, dtype=np.float64)
            d = f.std(axis=axes, dtype=np.float64) + (0.0 if per_channel else eps)
            return cast(
                np.ndarray, np.clip((f - a.astype(np.float32)) / d.astype(np.float32), -20, 20)
            )
        lo, hi = f.min(axis=axes), f.max(axis=axes)
        if per_channel:
            return cast(np.ndarray, np.clip((f - lo) / (hi - lo + eps), -20, 20))
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
    return cast(np.ndarray, np.clip(clipped, omin, omax).astype(v.dtype))


# --- the registry, in menu order ----------------------------------------------------------------


@_preset(
    "keras.normalize",
    "tf.keras.utils.normalize(x, axis=1)",
    library="keras",
    method="keras",
    axes=_keras_axis_1,
    code="x = tf.keras.utils.normalize(x, axis=1)",
)
def _keras_normalize(x: np.ndarray, roles: str) -> np.ndarray:
    """Keras 2's ``normalize(x, axis=1)``: the L2 norm over axis 1."""
    return keras(x, 1, 2)


for _norm in ("l1", "l2", "max"):
    _preset(
        f"sklearn.normalize.{_norm}",
        f"sklearn normalize(X, norm='{_norm}')",
        library="sklearn",
        method="lp",
        axes=_features,
        code=f"{{reshape}}; X = sklearn.preprocessing.normalize(X, norm='{_norm}')",
    )(_sk_normalize(_norm))

_preset(
    "sklearn.MinMaxScaler",
    "sklearn MinMaxScaler().fit_transform(X)",
    library="sklearn",
    method="minmax",
    axes=_samples,
    code="{reshape}; X = MinMaxScaler().fit_transform(X)",
)(_sk_minmax_scaler)
_preset(
    "sklearn.StandardScaler",
    "sklearn StandardScaler().fit_transform(X)",
    library="sklearn",
    method="zscore",
    axes=_samples,
    code="{reshape}; X = StandardScaler().fit_transform(X)",
)(_sk_standard_scaler)
_preset(
    "sklearn.minmax_scale",
    "sklearn minmax_scale(X, axis=1)",
    library="sklearn",
    method="minmax",
    axes=_features,
    code="{reshape}; X = minmax_scale(X, axis=1)",
)(_sk_minmax_scale_rows)
_preset(
    "torchvision.Normalize",
    "torchvision ToTensor + Normalize(ImageNet)",
    library="torchvision",
    method="meanstd",
    axes=_whole,
    code="x = T.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(T.ToTensor()(x))",
)(_torchvision)
_preset(
    "albumentations.standard",
    "albumentations Normalize() (ImageNet, standard)",
    library="albumentations",
    method="meanstd",
    axes=_whole,
    code="x = A.Normalize()(image=x)['image']",
)(_albu_standard)
for _mode in ("image", "image_per_channel", "min_max", "min_max_per_channel"):
    _preset(
        f"albumentations.{_mode}",
        f"albumentations Normalize(normalization='{_mode}')",
        library="albumentations",
        method="zscore" if _mode.startswith("image") else "minmax",
        axes=_plane_axes if _mode.endswith("per_channel") else _image_axes,
        code=f"x = A.Normalize(normalization='{_mode}')(image=x)['image']",
    )(_albu_per_image(_mode))
_preset(
    "cv2.NORM_MINMAX",
    "cv2.normalize(x, None, 0, 1, NORM_MINMAX, CV_32F)",
    library="opencv",
    method="minmax",
    axes=_whole,
    code="x = cv2.normalize(x, None, 0, 1, cv2.NORM_MINMAX, cv2.CV_32F)",
)(_cv2_norm("minmax"))
for _kind in ("l1", "l2", "inf"):
    _preset(
        f"cv2.NORM_{_kind.upper()}",
        f"cv2.normalize(x, None, 1, 0, NORM_{_kind.upper()}, CV_32F)",
        library="opencv",
        method="lp",
        axes=_whole,
        code=f"x = cv2.normalize(x, None, 1, 0, cv2.NORM_{_kind.upper()}, cv2.CV_32F)",
    )(_cv2_norm(_kind))
_preset(
    "skimage.rescale_intensity",
    "skimage exposure.rescale_intensity(x)",
    library="skimage",
    method="minmax",
    axes=_whole,
    code="x = skimage.exposure.rescale_intensity(x)",
)(_skimage_rescale)


@_preset(
    "skimage.equalize_hist",
    "skimage exposure.equalize_hist(x)",
    library="skimage",
    method="equalize",
    axes=_whole,
    code="x = skimage.exposure.equalize_hist(x)",
)
def _skimage_equalize(x: np.ndarray, roles: str) -> np.ndarray:
    """scikit-image ``equalize_hist`` over the whole array."""
    return equalize(x, None)
