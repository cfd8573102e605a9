"""Exact per-channel statistics of a whole dataset, streamed with bounded memory, on dask.

What ``transforms.Normalize(mean, std)`` and friends need, computed right: the pixel mean and
standard deviation of the whole dataset (not the mean of per-image values, which the usual
snippets print, and which this module reports beside them with how far off they are).

* **Partial results** (:class:`Partial`) are small and mergeable (:func:`merge`): exact level
  counts of 8- and 16-bit images (from which exact integer sums, min, max and percentiles
  follow), float64 moments merged with Chan's parallel update for other data, and the sums of
  per-image means and standard deviations for the snippet comparison.
* **Tasks**: one dask task per group of files (groups cut where a hash of the file name says,
  so adding files changes only the groups they fall in) or per chunk of an array's images;
  their partials merge in a tree. :func:`dataset_stats` runs it on the local threads (every
  core, no set-up) or sends the same graph to a dask.distributed scheduler.
* **Long runs**: a progress callback and a cancel event (for a window or a terminal), and a
  cache of every finished task keyed by its files' paths, sizes and mtimes, so an interrupted
  run resumes and a rerun after adding files reads only the new ones.

Images of a folder follow torchvision's default loader: grey images become RGB when the
dataset holds colour images, and the alpha channel is dropped; :class:`DatasetStats` says how
many were converted.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from normscope.core import engine as _engine
from normscope.core.dataset import ArrayDataset, Dataset, FileStamp, FolderDataset, NpyDataset
from normscope.core.dataset import open_dataset as _open_dataset
from normscope.core.loading import DEFAULT_MAX_PIXELS, LoadError

__all__ = [
    "DEFAULT_PERCENTILES",
    "Cancelled",
    "ChannelStats",
    "DatasetStats",
    "Moments",
    "Partial",
    "Progress",
    "ScaleStats",
    "StatsError",
    "block_partial",
    "dataset_stats",
    "default_cache_dir",
    "files_partial",
    "level_percentiles",
    "merge",
    "range_partial",
    "summarize",
    "unit_divisor",
]

DEFAULT_PERCENTILES: tuple[float, ...] = (1.0, 2.0, 50.0, 98.0, 99.0)
#: Bytes of image data one array task reads (a float task converts them to float64 too).
CHUNK_BYTES = 32 << 20
#: Files in one task, on average (a group ends after a file whose name hashes to 0 mod this).
GROUP = 16
_FAN_IN = 8
_CACHE_VERSION = 1
_EXACT_BITS = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}


class StatsError(ValueError):
    """A dataset whose statistics cannot be given: mixed bit depths, or nothing readable."""


class Cancelled(Exception):
    """The run was stopped (cancel event or Ctrl+C); ``progress`` says how far it got."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        super().__init__(
            f"stopped after {progress.images_done:,} of {progress.images_total:,} images"
        )


# --- partial results ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Moments:
    """Float64 moments per channel: count, mean, sum of squared deviations (``m2``), min, max,
    and values left out as NaN or infinite. Merged with Chan et al.'s parallel update."""

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray
    nonfinite: np.ndarray

    def merge(self, other: Moments) -> Moments:
        n = self.count + other.count
        safe = np.maximum(n, 1)
        delta = other.mean - self.mean
        both = (self.count > 0) & (other.count > 0)
        mean = np.where(
            self.count == 0,
            other.mean,
            np.where(both, self.mean + delta * (other.count / safe), self.mean),
        )
        m2 = self.m2 + other.m2 + np.where(both, delta**2 * (self.count * (other.count / safe)), 0)
        return Moments(
            n,
            mean,
            m2,
            np.minimum(self.low, other.low),
            np.maximum(self.high, other.high),
            self.nonfinite + other.nonfinite,
        )

    def pooled(self) -> Moments:
        """The channels merged into one (left to right)."""
        out = self.channel(0)
        for c in range(1, len(self.count)):
            out = out.merge(self.channel(c))
        return out

    def channel(self, c: int) -> Moments:
        return Moments(*(np.atleast_1d(a[c]) for a in self._arrays()))

    def tile(self, channels: int) -> Moments:
        return Moments(*(np.repeat(a, channels) for a in self._arrays()))

    def _arrays(self) -> tuple[np.ndarray, ...]:
        return self.count, self.mean, self.m2, self.low, self.high, self.nonfinite


@dataclass(frozen=True, eq=False)
class Partial:
    """Mergeable statistics of some images (see :func:`merge`); ``Partial()`` is empty.

    Attributes
    ----------
    channels : int
        Channels per image after conversion (0 while empty).
    images, pixels : int
        Images counted, and their pixels (height x width) summed.
    by_channels : tuple of 4 ints
        Images read with 1, 2, 3 and 4 channels (before conversion).
    levels8, levels16 : ndarray or None
        Exact level counts ``(channels, 256)`` / ``(channels, 65536)`` of 8- / 16-bit images.
    moments : Moments or None
        Moments of the other images (floats, and integers wider than 16 bits).
    image_means, image_stds : ndarray
        Per channel, the sum over images of each image's mean and standard deviation (ddof 0)
        on the unit scale: what the usual per-image snippets add up.
    dtypes : tuple of (str, str)
        Each dtype seen, with the first image that had it.
    skipped : tuple of (str, str)
        Files that could not be read, with the reason.
    """

    channels: int = 0
    images: int = 0
    pixels: int = 0
    by_channels: tuple[int, int, int, int] = (0, 0, 0, 0)
    levels8: np.ndarray | None = None
    levels16: np.ndarray | None = None
    moments: Moments | None = None
    image_means: np.ndarray = field(default_factory=lambda: np.zeros(0))
    image_stds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dtypes: tuple[tuple[str, str], ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()

    def with_channels(self, channels: int) -> Partial:
        """The same images seen with `channels` channels: a grey partial repeated into 3
        (what torchvision's ``convert("RGB")`` does to a grey image)."""
        if self.channels in (0, channels):
            return self
        if self.channels != 1:
            raise StatsError(f"cannot combine images of {self.channels} and {channels} channels")

        def rep(a: np.ndarray | None) -> np.ndarray | None:
            return None if a is None else np.repeat(a, channels, axis=0)

        return replace(
            self,
            channels=channels,
            levels8=rep(self.levels8),
            levels16=rep(self.levels16),
            moments=None if self.moments is None else self.moments.tile(channels),
            image_means=rep(self.image_means),
            image_stds=rep(self.image_stds),
        )


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return b if a is None else a if b is None else a + b


def _sum_images(a: Partial, b: Partial, name: str) -> np.ndarray:
    if not (a.images and b.images):
        return getattr(a if a.images else b, name)
    return getattr(a, name) + getattr(b, name)


def merge(*parts: Partial) -> Partial:
    """Merge partial results, left to right (exact for level counts; Chan's update for
    moments). Grey partials are repeated into 3 channels when merged with colour ones.

    Examples
    --------
    >>> a = block_partial(np.array([[[1], [2]]], np.uint8), "a")
    >>> b = block_partial(np.array([[[3, 3, 3]]], np.uint8), "b")
    >>> m = merge(a, b)
    >>> m.channels, m.images, m.pixels, m.levels8[:, :4].tolist()
    (3, 2, 3, [[0, 1, 1, 1], [0, 1, 1, 1], [0, 1, 1, 1]])
    """
    out = Partial()
    for p in parts:
        channels = max(out.channels, p.channels)
        a, b = out.with_channels(channels), p.with_channels(channels)
        moments = (
            a.moments
            if b.moments is None
            else b.moments
            if a.moments is None
            else a.moments.merge(b.moments)
        )
        seen = dict(a.dtypes)
        dtypes = a.dtypes + tuple(d for d in b.dtypes if d[0] not in seen)
        out = Partial(
            channels=channels,
            images=a.images + b.images,
            pixels=a.pixels + b.pixels,
            by_channels=tuple(x + y for x, y in zip(a.by_channels, b.by_channels, strict=True)),
            levels8=_add(a.levels8, b.levels8),
            levels16=_add(a.levels16, b.levels16),
            moments=moments,
            image_means=_sum_images(a, b, "image_means"),
            image_stds=_sum_images(a, b, "image_stds"),
            dtypes=tuple(sorted(dtypes)),
            skipped=a.skipped + b.skipped,
        )
    return out


def unit_divisor(dtype: np.dtype) -> float:
    """What ``ToTensor()`` divides by: the maximum of an integer dtype, 1 for floats and bool.

    >>> unit_divisor(np.dtype(np.uint8)), unit_divisor(np.dtype(np.float32))
    (255.0, 1.0)
    """
    return float(np.iinfo(dtype).max) if dtype.kind in "ui" else 1.0


def _count_levels(x: np.ndarray, levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add the level counts of 8- or 16-bit images `x` ``(n, pixels, channels)`` to `levels`;
    return each image's exact sum and sum of squares per channel, ``(n, channels)``."""
    n, _, nc = x.shape
    sums = np.empty((n, nc), np.int64)
    squares = np.empty((n, nc), np.int64)
    kernels = _engine.kernels()
    if kernels is not None:
        kernel = kernels.levels_8bit if levels.shape[1] == 256 else kernels.levels_16bit
        kernel(np.ascontiguousarray(x), levels, sums, squares)
    else:
        for c in range(nc):
            levels[c] += np.bincount(x[..., c].ravel(), minlength=levels.shape[1])
        wide = x.astype(np.int64)
        sums[:] = wide.sum(axis=1)
        squares[:] = (wide * wide).sum(axis=1)
    return sums, squares


def _levels_partial(
    levels: np.ndarray,
    sums: np.ndarray,
    squares: np.ndarray,
    sizes: np.ndarray | int,
    dtype: np.dtype,
    where: str,
) -> Partial:
    """A partial from level counts and per-image sums (images of `sizes` pixels each)."""
    unit = unit_divisor(dtype)
    mean = sums / sizes
    std = np.sqrt(np.maximum(squares - sums * mean, 0) / sizes)
    bits = _EXACT_BITS[dtype]
    return Partial(
        channels=levels.shape[0],
        images=len(sums),
        pixels=int(np.sum(sizes)) if np.ndim(sizes) else len(sums) * sizes,
        levels8=levels if bits == 8 else None,
        levels16=levels if bits == 16 else None,
        image_means=mean.sum(axis=0) / unit,
        image_stds=std.sum(axis=0) / unit,
        dtypes=((dtype.name, where),),
    )


class _LevelGroup:
    """Level counts and per-image sums of a task's images of one dtype and channel count,
    accumulated image by image (one partial for the group, not one per image)."""

    def __init__(self, dtype: np.dtype, channels: int, where: str) -> None:
        self.dtype, self.where = dtype, where
        self.levels = np.zeros((channels, 1 << _EXACT_BITS[dtype]), np.int64)
        self.sums: list[np.ndarray] = []
        self.squares: list[np.ndarray] = []
        self.sizes: list[int] = []

    def add(self, pixels: np.ndarray) -> None:
        s, q = _count_levels(pixels[np.newaxis], self.levels)
        self.sums.append(s[0])
        self.squares.append(q[0])
        self.sizes.append(pixels.shape[0])

    def partial(self) -> Partial:
        sizes = np.array(self.sizes, np.int64)[:, np.newaxis]
        return _levels_partial(
            self.levels, np.array(self.sums), np.array(self.squares), sizes, self.dtype, self.where
        )


def block_partial(x: np.ndarray, where: str) -> Partial:
    """The statistics of a block of images of one dtype, ``(n, pixels, channels)``.

    `where` names the first image (kept with its dtype for error messages).
    """
    n, m, nc = x.shape
    unit = unit_divisor(x.dtype)
    bits = _EXACT_BITS.get(x.dtype)
    if bits is not None:
        levels = np.zeros((nc, 1 << bits), np.int64)
        sums, squares = _count_levels(x, levels)
        return _levels_partial(levels, sums, squares, m, x.dtype, where)
    y = np.ascontiguousarray(np.moveaxis(x, 1, 2), np.float64)  # (n, channels, pixels)
    finite = np.isfinite(y)
    counts = finite.sum(axis=2)
    clean = np.where(finite, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = clean.sum(axis=2) / counts
        m2s = (np.where(finite, y - mean[..., None], 0.0) ** 2).sum(axis=2)
        std = np.sqrt(m2s / counts)
    total = counts.sum(axis=0)
    ok = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        pooled = np.where(ok, counts * np.where(ok, mean, 0), 0).sum(axis=0) / total
    pooled = np.where(total > 0, pooled, 0.0)
    dev = np.where(ok, mean - pooled, 0.0)
    moments = Moments(
        total,
        pooled,
        np.where(ok, m2s, 0).sum(axis=0) + (counts * dev**2).sum(axis=0),
        np.where(finite, y, np.inf).min(axis=(0, 2)),
        np.where(finite, y, -np.inf).max(axis=(0, 2)),
        (~finite).sum(axis=(0, 2)),
    )
    mean, std = np.nan_to_num(mean), np.nan_to_num(std)
    return Partial(
        channels=nc,
        images=n,
        pixels=n * m,
        moments=moments,
        image_means=mean.sum(axis=0) / unit,
        image_stds=std.sum(axis=0) / unit,
        dtypes=((x.dtype.name, where),),
    )


def _as_rgb(a: np.ndarray) -> tuple[np.ndarray, int]:
    """Image `a` as ``(pixels, channels)`` the way torchvision's loader sees it (alpha dropped;
    grey kept grey here, repeated at the merge when colour images are present), and the
    number of channels it had."""
    if a.dtype == np.bool_:
        a = a.astype(np.uint8) * np.uint8(255)  # PIL's convert("RGB") of a 1-bit image
    had = 1 if a.ndim == 2 else a.shape[-1]
    if a.ndim == 2:
        return a.reshape(-1, 1), 1
    if had not in (1, 2, 3, 4):
        raise LoadError("", f"has {had} channels; an image of a folder has 1 to 4")
    a = a[..., :1] if had in (1, 2) else a[..., :3]
    return a.reshape(-1, a.shape[-1]), had


def files_partial(dataset: Dataset, indices: Sequence[int]) -> Partial:
    """The statistics of images `indices` of a folder dataset, each converted like
    torchvision's loader does; files that cannot be read are skipped with their reason."""
    groups: dict[tuple[str, int], _LevelGroup] = {}
    parts, skipped, had = [], [], [0, 0, 0, 0]
    for i in indices:
        path = dataset.path(i)
        try:
            pixels, channels = _as_rgb(dataset.read(i))
        except LoadError as exc:
            skipped.append((path, exc.reason))
            continue
        had[channels - 1] += 1
        if pixels.dtype in _EXACT_BITS:
            key = (pixels.dtype.str, pixels.shape[1])
            if key not in groups:
                groups[key] = _LevelGroup(pixels.dtype, pixels.shape[1], path)
            groups[key].add(pixels)
        else:
            parts.append(block_partial(pixels[np.newaxis], path))
    merged = merge(*(g.partial() for g in groups.values()), *parts)
    return replace(merged, by_channels=tuple(had), skipped=tuple(skipped))


def range_partial(dataset: ArrayDataset, start: int, stop: int) -> Partial:
    """The statistics of images ``start`` to ``stop - 1`` of an array dataset (channels kept
    as they are: an array is not converted)."""
    x = dataset.read_range(start, stop)
    n = x.shape[0]
    block = np.asarray(x).reshape(n, x.shape[1] * x.shape[2], -1)
    p = block_partial(block, dataset.path(start))
    counts = [0, 0, 0, 0]
    if block.shape[2] <= 4:
        counts[block.shape[2] - 1] = n
    return replace(p, by_channels=tuple(counts))


# --- the summary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScaleStats:
    """Statistics of one channel (or all) on one scale. ``std`` is the population standard
    deviation (ddof 0, as torchvision users want), ``std_sample`` ddof 1 (None for one value);
    ``percentiles`` are numpy's default (linear) ones, None for float data."""

    mean: float
    std: float
    std_sample: float | None
    min: float
    max: float
    percentiles: tuple[tuple[float, float], ...] | None

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("mean", "std", "std_sample", "min", "max")}
        d["percentiles"] = (
            None if self.percentiles is None else {f"{q:g}": v for q, v in self.percentiles}
        )
        return d


@dataclass(frozen=True, eq=False)
class ChannelStats:
    """One channel's statistics (or all channels pooled, ``name == "all"``).

    ``raw`` is None for 8- and 16-bit images mixed on the unit scale; ``sum`` is the exact
    integer sum of the raw values of 8- and 16-bit data (None otherwise); ``histogram`` the
    exact counts per raw level (per 16-bit level for mixed depths), None for float data.
    """

    name: str
    count: int
    sum: int | None
    raw: ScaleStats | None
    unit: ScaleStats
    histogram: np.ndarray | None
    nonfinite: int = 0

    def to_dict(self) -> dict:
        hist = None
        if self.histogram is not None:
            levels = np.flatnonzero(self.histogram)
            hist = {"levels": levels.tolist(), "counts": self.histogram[levels].tolist()}
        return {
            "name": self.name,
            "count": self.count,
            "sum": self.sum,
            "nonfinite": self.nonfinite,
            "raw": None if self.raw is None else self.raw.to_dict(),
            "unit": self.unit.to_dict(),
            "histogram": hist,
        }


@dataclass(frozen=True)
class Progress:
    """How far a run got: images and tasks done (cached ones included), pixels read."""

    images_done: int
    images_total: int
    tasks_done: int
    tasks_total: int
    cached: int
    pixels: int
    seconds: float


@dataclass(frozen=True, eq=False)
class DatasetStats:
    """The statistics of a dataset, frozen; :meth:`to_dict` is the stable JSON form."""

    source: str
    kind: str
    listed: int
    images: int
    classes: tuple[str, ...]
    dtype: str
    scale: float
    channels: tuple[ChannelStats, ...]
    overall: ChannelStats
    by_channels: tuple[int, int, int, int]
    converted: int
    skipped: tuple[tuple[str, str], ...]
    snippet_means: tuple[float, ...]
    snippet_stds: tuple[float, ...]
    engine: dict

    @property
    def mean(self) -> tuple[float, ...]:
        """Per-channel means on the unit scale (what ``Normalize(mean=…)`` takes)."""
        return tuple(c.unit.mean for c in self.channels)

    @property
    def std(self) -> tuple[float, ...]:
        """Per-channel population standard deviations on the unit scale."""
        return tuple(c.unit.std for c in self.channels)

    def code(self) -> dict[str, str]:
        """The lines to paste: torchvision and albumentations on the unit scale (after
        ``ToTensor()`` / with ``max_pixel_value``), Keras on the raw scale."""

        def tup(values: Sequence[float]) -> str:
            inner = ", ".join(f"{v:.6g}" for v in values)
            return f"({inner},)" if len(values) == 1 else f"({inner})"

        out = {
            "torchvision": f"transforms.Normalize(mean={tup(self.mean)}, std={tup(self.std)})",
            "albumentations": f"A.Normalize(mean={tup(self.mean)}, std={tup(self.std)}, "
            f"max_pixel_value={self.scale:g})",
        }
        if all(c.raw is not None for c in self.channels):
            means = [c.raw.mean for c in self.channels]
            variances = [c.raw.std**2 for c in self.channels]
            out["keras"] = (
                f"keras.layers.Normalization(axis=-1, mean={tup(means)}, variance={tup(variances)})"
            )
        else:
            out["keras"] = (
                f"keras.layers.Normalization(axis=-1, mean={tup(self.mean)}, "
                f"variance={tup([s * s for s in self.std])})  # on x / {self.scale:g}"
            )
        return out

    def snippet(self) -> dict:
        """What the usual per-image loops print (unit scale) and their relative errors."""

        def err(got: Sequence[float], true: Sequence[float]) -> list[float | None]:
            return [None if t == 0 else (g - t) / t for g, t in zip(got, true, strict=True)]

        return {
            "mean_of_image_means": list(self.snippet_means),
            "mean_of_image_stds": list(self.snippet_stds),
            "mean_error": err(self.snippet_means, self.mean),
            "std_error": err(self.snippet_stds, self.std),
        }

    def to_dict(self) -> dict:
        return {
            "dataset": {
                "source": self.source,
                "kind": self.kind,
                "listed": self.listed,
                "images": self.images,
                "classes": list(self.classes),
                "dtype": self.dtype,
                "scale": self.scale,
                "channels": len(self.channels),
                "channels_read": dict(zip(("1", "2", "3", "4"), self.by_channels, strict=True)),
                "converted": self.converted,
            },
            "skipped": {
                "count": len(self.skipped),
                "files": [{"path": p, "reason": r} for p, r in self.skipped],
            },
            "channels": [c.to_dict() for c in self.channels],
            "overall": self.overall.to_dict(),
            "snippet": self.snippet(),
            "code": self.code(),
            "engine": self.engine,
        }


def _sqrt(x: Fraction) -> float:
    """The float nearest to the square root of `x` (correctly rounded)."""
    if x <= 0:
        return 0.0
    r = math.sqrt(float(x))
    while True:
        up = math.nextafter(r, math.inf)
        if ((Fraction(r) + Fraction(up)) / 2) ** 2 < x:
            r = up
            continue
        down = math.nextafter(r, 0.0)
        if ((Fraction(r) + Fraction(down)) / 2) ** 2 > x:
            r = down
            continue
        return r


def level_percentiles(
    counts: np.ndarray, values: np.ndarray, qs: Sequence[float]
) -> tuple[tuple[float, float], ...]:
    """``np.percentile`` (linear) of the values with these exact counts, bit for bit: the
    same float operations on the two neighbouring order statistics.

    Examples
    --------
    >>> x = np.array([0, 0, 1, 5, 5, 5, 9], np.uint8)
    >>> counts = np.bincount(x, minlength=256)
    >>> level_percentiles(counts, np.arange(256.0), [10, 50, 99]) == tuple(
    ...     (q, float(np.percentile(x, q))) for q in [10, 50, 99])
    True
    """
    n = int(counts.sum())
    cum = np.cumsum(counts)
    out = []
    for q in qs:
        at = (n - 1) * (np.float64(q) / 100)
        below = np.floor(at)
        if at >= n - 1:
            below = nxt = n - 1
        elif at < 0:
            below = nxt = 0
        else:
            nxt = int(below) + 1
        gamma = at - below
        a, b = values[np.searchsorted(cum, [int(below), nxt], side="right")]
        diff = b - a
        value = b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma
        out.append((float(q), float(value)))
    return tuple(out)


def _level_scale(
    counts: np.ndarray, divisor: int, qs: Sequence[float]
) -> tuple[int, ScaleStats, ScaleStats]:
    """Exact sum, raw and unit statistics from exact level counts."""
    levels = np.arange(len(counts), dtype=object)
    n = int(counts.sum())
    big = counts.astype(object)
    s = int(big @ levels)
    q2 = int(big @ (levels * levels))
    var = Fraction(q2 * n - s * s, n * n)
    var1 = Fraction(q2 * n - s * s, n * (n - 1)) if n > 1 else None
    nz = np.flatnonzero(counts)
    lo, hi = int(nz[0]), int(nz[-1])
    raw_values = np.arange(len(counts), dtype=np.float64)
    raw = ScaleStats(
        float(Fraction(s, n)),
        _sqrt(var),
        None if var1 is None else _sqrt(var1),
        float(lo),
        float(hi),
        level_percentiles(counts, raw_values, qs),
    )
    d = Fraction(divisor)
    unit = ScaleStats(
        float(Fraction(s, n) / d),
        _sqrt(var / d**2),
        None if var1 is None else _sqrt(var1 / d**2),
        lo / divisor,
        hi / divisor,
        level_percentiles(counts, raw_values / divisor, qs),
    )
    return s, raw, unit


def _moment_scale(m: Moments, divisor: float) -> ScaleStats:
    n, m2 = int(m.count[0]), float(m.m2[0])
    return ScaleStats(
        float(m.mean[0]) / divisor,
        math.sqrt(m2 / n) / divisor,
        math.sqrt(m2 / (n - 1)) / divisor if n > 1 else None,
        float(m.low[0]) / divisor,
        float(m.high[0]) / divisor,
        None,
    )


def _channel_names(channels: int) -> tuple[str, ...]:
    return {1: ("grey",), 3: ("R", "G", "B")}.get(channels, tuple(map(str, range(channels))))


def _depth(dtype: str) -> str:
    return {"uint8": "8-bit", "uint16": "16-bit"}.get(dtype, "float" if "float" in dtype else dtype)


def summarize(
    p: Partial,
    *,
    unit: bool = False,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    source: str = "",
    kind: str = "",
    listed: int | None = None,
    classes: tuple[str, ...] = (),
    engine: dict | None = None,
) -> DatasetStats:
    """Turn merged partial results into the final statistics.

    Parameters
    ----------
    p : Partial
    unit : bool, optional
        Allow 8- and 16-bit images in one dataset: both are taken on the unit scale (an 8-bit
        level v is the 16-bit level 257 v), and no raw-scale statistics are given.
    percentiles : sequence of float
        In [0, 100].

    Raises
    ------
    StatsError
        When no image could be read, or bit depths are mixed without `unit`.
    """
    if p.images == 0:
        raise StatsError(
            f"no image could be read ({len(p.skipped):,} skipped)" if p.skipped else "no images"
        )
    depths: dict[str, str] = {}
    for dtype, where in sorted(p.dtypes, key=lambda d: np.dtype(d[0]).itemsize):
        depths.setdefault(_depth(dtype), f"{dtype} ({where})")
    mixed_ok = set(depths) == {"8-bit", "16-bit"}
    mixed = mixed_ok and unit
    if len(depths) > 1 and not mixed:
        listing = " and ".join(f"{k} images such as {v}" for k, v in depths.items())
        hint = "; ask for the unit scale (--unit) to take both" if mixed_ok else ""
        raise StatsError(f"the dataset mixes {listing}{hint}")
    names = _channel_names(p.channels)
    dtype = "+".join(sorted({d for d, _ in p.dtypes}))
    channels = []
    if p.levels8 is not None or p.levels16 is not None:
        if mixed:
            levels = p.levels16.copy()
            levels[:, ::257] += p.levels8
        else:
            levels = p.levels8 if p.levels8 is not None else p.levels16
        divisor = 255 if levels.shape[1] == 256 else 65535
        for name, counts in (*zip(names, levels, strict=True), ("all", levels.sum(axis=0))):
            s, raw, unit_stats = _level_scale(counts, divisor, percentiles)
            channels.append(
                ChannelStats(
                    name,
                    int(counts.sum()),
                    None if mixed else s,
                    None if mixed else raw,
                    unit_stats,
                    counts,
                )
            )
        scale = float(divisor)
    else:
        m = p.moments
        scale = unit_divisor(np.dtype(p.dtypes[0][0]))
        for c, name in enumerate(names):
            mc = m.channel(c)
            channels.append(
                ChannelStats(
                    name,
                    int(mc.count[0]),
                    None,
                    _moment_scale(mc, 1.0),
                    _moment_scale(mc, scale),
                    None,
                    int(mc.nonfinite[0]),
                )
            )
        pooled = m.pooled()
        channels.append(
            ChannelStats(
                "all",
                int(pooled.count[0]),
                None,
                _moment_scale(pooled, 1.0),
                _moment_scale(pooled, scale),
                None,
                int(pooled.nonfinite[0]),
            )
        )
    one, three = p.by_channels[0], p.by_channels[2]
    converted = p.by_channels[1] + p.by_channels[3] + (one if p.channels == 3 and three else 0)
    if kind != "folder":
        converted = 0
    return DatasetStats(
        source=source,
        kind=kind,
        listed=p.images + len(p.skipped) if listed is None else listed,
        images=p.images,
        classes=classes,
        dtype=dtype,
        scale=scale,
        channels=tuple(channels[:-1]),
        overall=channels[-1],
        by_channels=p.by_channels,
        converted=converted,
        skipped=p.skipped,
        snippet_means=tuple((p.image_means / p.images).tolist()),
        snippet_stds=tuple((p.image_stds / p.images).tolist()),
        engine=engine or {},
    )


# --- the cache -----------------------------------------------------------------------------


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/normscope/stats`` (``~/.cache/normscope/stats`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "normscope" / "stats"


def _save(folder: Path, key: str, p: Partial) -> None:
    meta = {
        "channels": p.channels,
        "images": p.images,
        "pixels": p.pixels,
        "by_channels": list(p.by_channels),
        "dtypes": [list(d) for d in p.dtypes],
        "skipped": [list(s) for s in p.skipped],
    }
    arrays = {
        "meta": np.frombuffer(json.dumps(meta).encode(), np.uint8),
        "image_means": p.image_means,
        "image_stds": p.image_stds,
    }
    for name in ("levels8", "levels16"):
        if getattr(p, name) is not None:
            arrays[name] = getattr(p, name)
    if p.moments is not None:
        arrays |= {f"m_{k}": v for k, v in zip("cmqlhn", p.moments._arrays(), strict=True)}
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{key}.{os.getpid()}.{threading.get_ident()}.npz"
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, folder / f"{key}.npz")


def _load(folder: Path, key: str) -> Partial | None:
    path = folder / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(z["meta"].tobytes())
            moments = Moments(*(z[f"m_{k}"] for k in "cmqlhn")) if "m_c" in z.files else None
            return Partial(
                channels=meta["channels"],
                images=meta["images"],
                pixels=meta["pixels"],
                by_channels=tuple(meta["by_channels"]),
                levels8=z["levels8"] if "levels8" in z.files else None,
                levels16=z["levels16"] if "levels16" in z.files else None,
                moments=moments,
                image_means=z["image_means"],
                image_stds=z["image_stds"],
                dtypes=tuple(tuple(d) for d in meta["dtypes"]),
                skipped=tuple(tuple(s) for s in meta["skipped"]),
            )
    except (OSError, ValueError, KeyError):  # missing, or damaged: computed again
        return None


def _key(*parts: object) -> str:
    return hashlib.sha256(repr((_CACHE_VERSION, *parts)).encode()).hexdigest()[:32]


# --- the run -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Task:
    fn: Callable[..., Partial]
    args: tuple
    images: int
    cache_key: str | None


def _file_groups(dataset: FolderDataset, n: int) -> list[list[int]]:
    """Files 0..n-1 cut into groups after each file whose name's CRC is 0 mod GROUP, at the
    end of each folder, and at 4 GROUP files: adding a file changes only the group it falls
    in (and one more group when it pushes a group over the size limit)."""
    groups, current = [], []
    for i in range(n):
        current.append(i)
        name = os.path.relpath(dataset.files[i], dataset.root).encode()
        last_here = i + 1 == n or (
            os.path.dirname(dataset.files[i]) != os.path.dirname(dataset.files[i + 1])
        )
        if last_here or zlib.crc32(name) % GROUP == 0 or len(current) >= 4 * GROUP:
            groups.append(current)
            current = []
    return groups + ([current] if current else [])


def _plan(dataset: Dataset, n: int, chunk_bytes: int, max_pixels: int) -> list[_Task]:
    if isinstance(dataset, FolderDataset):
        tasks = []
        for group in _file_groups(dataset, n):
            stamps = []
            for i in group:
                try:
                    stamps.append(FileStamp.of(dataset.files[i]))
                except OSError:
                    stamps.append(FileStamp(dataset.files[i], -1, -1))
            key = _key("files", max_pixels, tuple(stamps))
            tasks.append(_Task(files_partial, (group,), len(group), key))
        return tasks
    if not isinstance(dataset, ArrayDataset):
        return [
            _Task(files_partial, (list(range(i, min(n, i + GROUP))),), min(GROUP, n - i), None)
            for i in range(0, n, GROUP)
        ]
    per_image = math.prod(dataset.image_shape) * dataset.dtype.itemsize
    if dataset.dtype not in _EXACT_BITS:
        per_image *= 3  # the float64 copy and its temporaries
    step = max(1, chunk_bytes // max(per_image, 1))
    stamp = dataset.stamp if isinstance(dataset, NpyDataset) else None
    return [
        _Task(
            range_partial,
            (a, min(n, a + step)),
            min(n, a + step) - a,
            None if stamp is None else _key("range", stamp, dataset.roles, a, min(n, a + step)),
        )
        for a in range(0, n, step)
    ]


def _scheduler_address(scheduler: str | None) -> str | None:
    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if address in (None, "threads", "local"):
        return None
    return address if "://" in address else f"tcp://{address}"


def dataset_stats(
    source: str | os.PathLike | np.ndarray | Dataset,
    *,
    unit: bool = False,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    scheduler: str | None = None,
    limit: int | None = None,
    cache: str | os.PathLike | None = None,
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    key: str | None = None,
    roles: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> DatasetStats:
    """Exact statistics of a whole dataset, on dask.

    Parameters
    ----------
    source : path, ndarray or Dataset
        A folder (``ImageFolder`` layout), ``.npy`` (memory-mapped), ``.npz``, MNIST IDX
        file, ``sample:NAME``, an array in memory or an opened :class:`~core.dataset.Dataset`.
    unit : bool, optional
        Allow 8- and 16-bit images mixed (statistics on the unit scale only).
    percentiles : sequence of float, optional
    scheduler : str, optional
        ``"HOST:PORT"`` (or a ``tcp://`` address) of a dask.distributed scheduler; default
        ``DASK_SCHEDULER_ADDRESS``, else the local threads (every core, no set-up).
    limit : int, optional
        Only the first `limit` images.
    cache : path, optional
        A folder keeping each finished task's partial result, keyed by its files' paths,
        sizes and mtimes (an ``.npy``'s: by its stamp and range); None: no cache.
    progress : callable, optional
        Called with a :class:`Progress` after each task, on the calling thread.
    cancel : threading.Event, optional
        Set it (from any thread) to stop the run: :class:`Cancelled` is raised within a task.
    chunk_bytes : int, optional
        Image bytes read by one array task: memory is bounded by this times the workers.
    key, roles, max_pixels
        As for :func:`core.loading.load`; `max_pixels` bounds one image of a ``.npy``.

    Returns
    -------
    DatasetStats

    Raises
    ------
    LoadError
        When the source cannot be opened.
    StatsError
        When no image is readable or bit depths are mixed without `unit`.
    Cancelled
        When `cancel` was set.

    Examples
    --------
    >>> s = dataset_stats("sample:digits")
    >>> s.images, s.dtype, round(s.mean[0], 6), s.channels[0].raw.max
    (64, 'uint8', 0.131672, 252.0)
    """
    t0 = time.perf_counter()
    if isinstance(source, Dataset):
        dataset = source
    elif isinstance(source, np.ndarray):
        dataset = ArrayDataset(source, roles=roles)
    else:
        dataset = _open_dataset(source, key=key, roles=roles, max_pixels=max_pixels)
    kind = (
        "folder"
        if isinstance(dataset, FolderDataset)
        else "npy"
        if isinstance(dataset, NpyDataset)
        else "array"
    )
    n = len(dataset) if limit is None else max(0, min(limit, len(dataset)))
    tasks = _plan(dataset, n, chunk_bytes, max_pixels)
    folder = None if cache is None else Path(cache)
    cached = {
        i: p
        for i, t in enumerate(tasks)
        if folder is not None
        and t.cache_key is not None
        and (p := _load(folder, t.cache_key)) is not None
    }
    state = {
        "images": sum(tasks[i].images for i in cached),
        "tasks": len(cached),
        "pixels": sum(p.pixels for p in cached.values()),
    }

    def report() -> Progress:
        return Progress(
            state["images"],
            n,
            state["tasks"],
            len(tasks),
            len(cached),
            state["pixels"],
            time.perf_counter() - t0,
        )

    def done(i: int, p: Partial) -> None:
        state["images"] += tasks[i].images
        state["tasks"] += 1
        state["pixels"] += p.pixels
        if folder is not None and tasks[i].cache_key is not None:
            _save(folder, tasks[i].cache_key, p)
        if progress is not None:
            progress(report())
        if cancel is not None and cancel.is_set():
            raise Cancelled(report())

    if progress is not None:
        progress(report())
    address = _scheduler_address(scheduler)
    run = _run_distributed if address else _run_local
    merged, workers = run(dataset, tasks, cached, done, cancel, report, address)
    stats = summarize(
        merged,
        unit=unit,
        percentiles=percentiles,
        source=dataset.source,
        kind=kind,
        listed=n,
        classes=dataset.classes,
        engine={
            "scheduler": address or "threads",
            "workers": workers,
            "tasks": len(tasks),
            "cached": len(cached),
            "seconds": round(time.perf_counter() - t0, 3),
        },
    )
    return stats


def _graph(dataset: Dataset, tasks: list[_Task], cached: dict[int, Partial], run_id: str):
    """Leaves (dask.delayed, or cached partials) and the merge tree over them."""
    from dask import delayed

    data = delayed(dataset, name=f"normscope-dataset-{run_id}")
    leaves: dict[str, int] = {}
    level: list = []
    for i, t in enumerate(tasks):
        if i in cached:
            level.append(cached[i])
            continue
        name = f"normscope-leaf-{run_id}-{i}"
        leaves[name] = i
        level.append(delayed(t.fn, pure=True)(data, *t.args, dask_key_name=name))
    depth = 0  # a lone cached partial gets a merge task too: the root is always a dask object
    while len(level) > 1 or (level and not hasattr(level[0], "dask")):
        level = [
            delayed(merge, pure=True)(
                *level[j : j + _FAN_IN], dask_key_name=f"normscope-merge-{run_id}-{depth}-{j}"
            )
            for j in range(0, len(level), _FAN_IN)
        ]
        depth += 1
    return leaves, (level[0] if level else None)


def _run_id(dataset: Dataset, tasks: list[_Task]) -> str:
    return _key(type(dataset).__name__, dataset.source, len(tasks), time.time_ns())[:12]


def _run_local(dataset, tasks, cached, done, cancel, report, address):
    import dask
    from dask.callbacks import Callback

    leaves, root = _graph(dataset, tasks, cached, _run_id(dataset, tasks))
    if root is None:
        return Partial(), 0
    workers = os.cpu_count() or 1

    class Watch(Callback):
        def _pretask(self, key, dsk, state):
            if cancel is not None and cancel.is_set():
                raise Cancelled(report())

        def _posttask(self, key, result, dsk, state, worker_id):
            if key in leaves:
                done(leaves[key], result)

    with Watch():
        (merged,) = dask.compute(root, scheduler="threads", num_workers=workers)
    return merged, workers


def _run_distributed(dataset, tasks, cached, done, cancel, report, address):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise StatsError(
            "a dask.distributed scheduler needs the distributed package: "
            "pip install 'normscope[cluster]'"
        ) from None
    leaves, root = _graph(dataset, tasks, cached, _run_id(dataset, tasks))
    if root is None:
        return Partial(), 0
    with Client(address, set_as_default=False, timeout="10s") as client:
        workers = len(client.scheduler_info().get("workers", {}))
        names = list(leaves)
        futures = client.compute([root] + [_leaf(root, name) for name in names])
        root_future, leaf_futures = futures[0], futures[1:]
        by_key = {f.key: name for f, name in zip(leaf_futures, names, strict=True)}
        try:
            for f in as_completed(leaf_futures):
                done(leaves[by_key[f.key]], f.result())
                f.release()
            return root_future.result(), workers
        except BaseException:
            client.cancel(futures)
            raise


def _leaf(root, name: str):
    """The delayed leaf called `name` inside `root`'s graph."""
    from dask.delayed import Delayed

    return Delayed(name, root.dask)
