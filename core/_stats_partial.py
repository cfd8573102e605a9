"""The mergeable partial results of dataset statistics (see :mod:`core.stats`).

A :class:`Partial` holds exact level counts of 8- and 16-bit images (from which exact integer
sums, min, max and percentiles follow), float64 :class:`Moments` of other data (merged with
Chan's parallel update), and the sums of per-image means and standard deviations for the
snippet comparison. :func:`files_partial` and :func:`range_partial` compute one task's
partial; :func:`merge` combines them in any grouping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from normscope.core import engine as _engine
from normscope.core.dataset import ArrayDataset, Dataset
from normscope.core.loading import LoadError

_EXACT_BITS = {np.dtype(np.uint8): 8, np.dtype(np.uint16): 16}


class StatsError(ValueError):
    """A dataset whose statistics cannot be given: mixed bit depths, or nothing readable."""


@dataclass(frozen=True, eq=False)
class Moments:
    """Float64 moments per channel, merged with Chan et al.'s parallel update.

    Count, mean, sum of squared deviations (``m2``), min, max, and values left out as NaN or
    infinite.
    """

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray
    high: np.ndarray
    nonfinite: np.ndarray

    def merge(self, other: Moments) -> Moments:
        """These moments and `other`'s, as if computed over both (Chan et al.'s update)."""
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
        """The moments of channel `c` alone (one channel)."""
        return Moments(*(np.atleast_1d(a[c]) for a in self._arrays()))

    def tile(self, channels: int) -> Moments:
        """One channel's moments repeated into `channels` (a grey image seen as RGB)."""
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
        """The same images seen with `channels` channels.

        A grey partial is repeated into 3 (what torchvision's ``convert("RGB")`` does to a grey
        image).
        """
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
            image_means=np.repeat(self.image_means, channels, axis=0),
            image_stds=np.repeat(self.image_stds, channels, axis=0),
        )


def _add(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    return b if a is None else a if b is None else a + b


def _sum_images(a: Partial, b: Partial, name: str) -> np.ndarray:
    x: np.ndarray = getattr(a, name)
    y: np.ndarray = getattr(b, name)
    if not (a.images and b.images):
        return x if a.images else y
    total: np.ndarray = x + y  # numpy types the sum of two bare ndarrays as Any
    return total


def _four(counts: Sequence[int]) -> tuple[int, int, int, int]:
    """Counts of images read with 1, 2, 3 and 4 channels, as ``Partial.by_channels``."""
    one, two, three, four = counts
    return one, two, three, four


def merge(*parts: Partial) -> Partial:
    """Merge partial results, left to right.

    Exact for level counts; Chan's update for moments. Grey partials are repeated into 3 channels
    when merged with colour ones.

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
            by_channels=_four([x + y for x, y in zip(a.by_channels, b.by_channels, strict=True)]),
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
    """Add the level counts of 8- or 16-bit images `x` ``(n, pixels, channels)`` to `levels`.

    Return each image's exact sum and sum of squares per channel, ``(n, channels)``.
    """
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
        pixels=int(np.sum(sizes)) if isinstance(sizes, np.ndarray) else len(sums) * sizes,
        levels8=levels if bits == 8 else None,
        levels16=levels if bits == 16 else None,
        image_means=mean.sum(axis=0) / unit,
        image_stds=std.sum(axis=0) / unit,
        dtypes=((dtype.name, where),),
    )


class _LevelGroup:
    """Level counts and per-image sums of a task's images of one dtype and channel count.

    Accumulated image by image (one partial for the group, not one per image).
    """

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
    """Image `a` as ``(pixels, channels)`` the way torchvision's loader sees it.

    Alpha is dropped; grey is kept grey here, repeated at the merge when colour images are present.
    Also the number of channels it had.
    """
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
    """The statistics of images `indices` of a folder dataset.

    Each is converted like torchvision's loader does; files that cannot be read are skipped with
    their reason.
    """
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
    return replace(merged, by_channels=_four(had), skipped=tuple(skipped))


def range_partial(dataset: ArrayDataset, start: int, stop: int) -> Partial:
    """The statistics of images ``start`` to ``stop - 1`` of an array dataset.

    Channels are kept as they are: an array is not converted.
    """
    x = dataset.read_range(start, stop)
    n = x.shape[0]
    block = np.asarray(x).reshape(n, x.shape[1] * x.shape[2], -1)
    p = block_partial(block, dataset.path(start))
    counts = [0, 0, 0, 0]
    if block.shape[2] <= 4:
        counts[block.shape[2] - 1] = n
    return replace(p, by_channels=_four(counts))
