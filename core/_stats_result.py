"""The frozen statistics of a dataset, from merged partial results (see :mod:`core.stats`).

:func:`summarize` turns a merged :class:`~core._stats_partial.Partial` into
:class:`DatasetStats`: exact sums, standard deviations and percentiles from level counts
(correctly rounded), float64 moments otherwise; the lines of code to paste and the stable JSON
form are the result's own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from normscope.core._stats_partial import Moments, Partial, StatsError, unit_divisor

DEFAULT_PERCENTILES: tuple[float, ...] = (1.0, 2.0, 50.0, 98.0, 99.0)


@dataclass(frozen=True)
class ScaleStats:
    """Statistics of one channel (or all) on one scale.

    ``std`` is the population standard deviation (ddof 0, as torchvision users want), ``std_sample``
    ddof 1 (None for one value); ``percentiles`` are numpy's default (linear) ones, None for float
    data.
    """

    mean: float
    std: float
    std_sample: float | None
    min: float
    max: float
    percentiles: tuple[tuple[float, float], ...] | None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: the fields, percentiles as ``{"q": value}`` (None for float data)."""
        d: dict[str, Any] = {
            k: getattr(self, k) for k in ("mean", "std", "std_sample", "min", "max")
        }
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

    def to_dict(self) -> dict[str, Any]:
        """The JSON form; the histogram as its non-zero levels and their counts."""
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
    engine: dict[str, Any]

    @property
    def mean(self) -> tuple[float, ...]:
        """Per-channel means on the unit scale (what ``Normalize(mean=…)`` takes)."""
        return tuple(c.unit.mean for c in self.channels)

    @property
    def std(self) -> tuple[float, ...]:
        """Per-channel population standard deviations on the unit scale."""
        return tuple(c.unit.std for c in self.channels)

    def code(self) -> dict[str, str]:
        """The lines to paste for torchvision, albumentations and Keras.

        torchvision and albumentations on the unit scale (after ``ToTensor()`` / with
        ``max_pixel_value``), Keras on the raw scale.
        """

        def tup(values: Sequence[float]) -> str:
            inner = ", ".join(f"{v:.6g}" for v in values)
            return f"({inner},)" if len(values) == 1 else f"({inner})"

        out = {
            "torchvision": f"transforms.Normalize(mean={tup(self.mean)}, std={tup(self.std)})",
            "albumentations": f"A.Normalize(mean={tup(self.mean)}, std={tup(self.std)}, "
            f"max_pixel_value={self.scale:g})",
        }
        raws = [c.raw for c in self.channels if c.raw is not None]
        if len(raws) == len(self.channels):
            means = [r.mean for r in raws]
            variances = [r.std**2 for r in raws]
            out["keras"] = (
                f"keras.layers.Normalization(axis=-1, mean={tup(means)}, variance={tup(variances)})"
            )
        else:
            out["keras"] = (
                f"keras.layers.Normalization(axis=-1, mean={tup(self.mean)}, "
                f"variance={tup([s * s for s in self.std])})  # on x / {self.scale:g}"
            )
        return out

    def snippet(self) -> dict[str, list[float] | list[float | None]]:
        """What the usual per-image loops print (unit scale) and their relative errors."""

        def err(got: Sequence[float], true: Sequence[float]) -> list[float | None]:
            return [None if t == 0 else (g - t) / t for g, t in zip(got, true, strict=True)]

        return {
            "mean_of_image_means": list(self.snippet_means),
            "mean_of_image_stds": list(self.snippet_stds),
            "mean_error": err(self.snippet_means, self.mean),
            "std_error": err(self.snippet_stds, self.std),
        }

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON form.

        The dataset, skipped files, each channel and all of them, the snippet comparison, the code
        lines and how the run went (``engine``).
        """
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
    """``np.percentile`` (linear) of the values with these exact counts, bit for bit.

    The same float operations on the two neighbouring order statistics.

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


def _levels(p: Partial) -> np.ndarray | None:
    """The exact level counts of `p` (None for float data).

    With both depths (mixed on the unit scale) 8-bit level v is counted at 16-bit level 257 v.
    """
    if p.levels8 is None or p.levels16 is None:
        return p.levels8 if p.levels8 is not None else p.levels16
    levels = p.levels16.copy()
    levels[:, ::257] += p.levels8
    return levels


def summarize(
    p: Partial,
    *,
    unit: bool = False,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    source: str = "",
    kind: str = "",
    listed: int | None = None,
    classes: tuple[str, ...] = (),
    engine: dict[str, Any] | None = None,
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
    levels = _levels(p)
    if levels is not None:
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
        assert m is not None, "images without level counts have moments"
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
