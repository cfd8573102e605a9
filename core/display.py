"""Display levels: which values map to black and white, stated rather than guessed.

An inspector that auto-levels each panel makes ``x``, ``x / 255`` and a min-max stretch look
identical. NormScope draws the original in its dtype range (or its data range) and the
normalized array in its own finite data range, and says which.
"""

from __future__ import annotations

import itertools
import math
from typing import cast

import numpy as np

from normscope.core import engine as _engine
from normscope.core.dtypes import canonical, distinct_levels
from normscope.core.histogram import finite_range

__all__ = [
    "display_levels",
    "quantize",
    "scale_to_levels",
    "symmetric_levels",
    "to_uint8",
    "zoom_factor",
]


def display_levels(image: np.ndarray, *, mode: str = "data") -> tuple[float, float]:
    """The (low, high) values to draw as the ends of the colour map.

    Parameters
    ----------
    image : ndarray
    mode : {"data", "dtype"}
        ``"dtype"``: the full range of an integer dtype (uint8: 0 … 255) or 0 … 1 for bool;
        floats fall back to their data range. ``"data"``: the finite minimum and maximum.

    Returns
    -------
    (float, float)
        Always two distinct finite floats, low < high: a constant image gets a unit range
        around its value (or, from magnitude 2**52 on, the neighbouring floats, see
        :func:`core.dtypes.distinct_levels`), an empty or all-NaN image gets (0, 1).

    Examples
    --------
    >>> display_levels(np.array([3, 7], np.uint8), mode="dtype")
    (0.0, 255.0)
    >>> display_levels(np.array([0.25, np.nan, 0.5]))
    (0.25, 0.5)
    >>> display_levels(np.full(4, 2.0))
    (1.5, 2.5)
    """
    a = canonical(image)
    if mode not in ("data", "dtype"):
        raise ValueError(f"mode must be 'data' or 'dtype', not {mode!r}")
    if mode == "dtype" and a.dtype.kind in "ui":
        info = np.iinfo(a.dtype)
        return float(info.min), float(info.max)
    if mode == "dtype" and a.dtype.kind == "b":
        return 0.0, 1.0
    lo, hi, count = finite_range(a.view(np.uint8) if a.dtype.kind == "b" else a)
    return distinct_levels(lo, hi) if count else (0.0, 1.0)


def symmetric_levels(values: np.ndarray) -> tuple[float, float]:
    """Levels centred on 0, ``(-m, m)`` with m the largest finite magnitude.

    This puts "no change" in the middle of a diverging map; ``(-1, 1)`` when every value is 0 or
    none is finite.

    Examples
    --------
    >>> symmetric_levels(np.array([-0.25, 0.5, np.nan]))
    (-0.5, 0.5)
    """
    lo, hi, count = finite_range(values)
    top = max(abs(lo), abs(hi)) if count else 0.0
    return (-top, top) if top > 0 else (-1.0, 1.0)


def to_uint8(image: np.ndarray, levels: tuple[float, float]) -> np.ndarray:
    """Map `levels` linearly to 0 … 255, clip outside, NaN to 0: what a gray panel shows.

    Examples
    --------
    >>> to_uint8(np.array([0.0, 0.5, 1.0, 2.0, np.nan]), (0.0, 1.0)).tolist()
    [0, 128, 255, 255, 0]
    >>> to_uint8(np.array([-1e308, 0.0, 1e308]), (-1e308, 1e308)).tolist()
    [0, 128, 255]
    """
    return scale_to_levels(image, levels, 255).astype(np.uint8)


def scale_to_levels(image: np.ndarray, levels: tuple[float, float], top: int) -> np.ndarray:
    """Map `levels` linearly to the integers 0 … `top` (float64), clip outside, NaN to 0.

    `levels` must be finite with low < high (as :func:`display_levels` gives them); any such
    pair works, however close or far apart its ends are: the span is never 0, and a span
    beyond float64's range is worked in halves.

    Examples
    --------
    >>> scale_to_levels(np.array([1.0, 2.0, 3.0]), (1.0, 3.0), 65535).tolist()
    [0.0, 32768.0, 65535.0]
    """
    lo, hi = float(levels[0]), float(levels[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"levels must be finite with low < high, not ({lo!r}, {hi!r})")
    v = np.asarray(canonical(image), dtype=np.float64)
    if math.isinf(hi - lo):  # the widest ranges: work in halves (exact), so the span is finite
        v, lo, hi = v * 0.5, lo * 0.5, hi * 0.5
    factor = top / (hi - lo)
    with np.errstate(invalid="ignore", over="ignore"):
        if math.isinf(factor):  # the closest levels: divide by the (tiny, non-zero) span
            scaled = (v - lo) / (hi - lo) * top
        else:
            scaled = (v - lo) * factor
    return cast(np.ndarray, np.nan_to_num(np.clip(np.rint(scaled), 0, top), nan=0.0))


def quantize(image: np.ndarray, levels: tuple[float, float], steps: float) -> np.ndarray | None:
    """The bytes a viewer draws a float image from, as pyqtgraph's ``ImageItem`` makes them.

    ``(x − low) · (steps / (high − low))``, clipped to 0 … 255 and truncated, computed in the
    image's own float type (float32 or float64). `steps` is 255.0 for colour data and the
    number of entries of the colour table (256) for a table's indices. Compiled on every
    thread when the kernels are loaded: the picture of a 2048×2048 RGB image costs a few ms.

    Returns
    -------
    ndarray of uint8 or None
        None for data other than float32 and float64, and when a value is NaN (a viewer draws
        NaN transparent, which no byte says).

    Examples
    --------
    >>> quantize(np.array([0.0, 0.5, 0.999, 1.0, 7.0, -1.0]), (0.0, 1.0), 256).tolist()
    [0, 128, 255, 255, 255, 0]
    >>> quantize(np.array([0.0, np.nan]), (0.0, 1.0), 255.0) is None
    True
    """
    if image.dtype not in (np.float32, np.float64):
        return None
    lo, hi = np.asarray(levels, np.float64)
    span = hi - lo
    kind = image.dtype.type
    offset, scale = kind(float(lo)), kind(float(steps / (1 if span == 0 else span)))
    flat = np.ascontiguousarray(image).reshape(-1)
    out = np.empty(flat.size, np.uint8)
    compiled = _engine.kernels()
    if compiled is None:
        with np.errstate(invalid="ignore"):
            scaled = np.clip((flat - offset) * scale, 0, 255)
        if np.isnan(scaled).any():
            return None
        return cast(np.ndarray, scaled.astype(np.uint8).reshape(image.shape))
    cuts = np.linspace(0, flat.size, 2 * _engine.threads() + 1).astype(int).tolist()
    nan = np.zeros(len(cuts) - 1, np.bool_)
    parts = [(k0, k1, p) for p, (k0, k1) in enumerate(itertools.pairwise(cuts))]
    _engine.in_parts(
        lambda *part: compiled.quantize(flat, offset, scale, 255, out, nan, part), parts
    )
    return None if nan.any() else out.reshape(image.shape)


def zoom_factor(shape: tuple[int, ...], target: int = 336) -> int:
    """The integer enlargement that brings a small image near `target` pixels (at least 1).

    Examples
    --------
    >>> zoom_factor((28, 28)), zoom_factor((512, 512))
    (12, 1)
    """
    return max(1, target // max(shape[0], shape[1], 1))
