"""The statistics of a normalization over the batch axis N of a dataset that is not in memory.

:func:`dataset_batch_stats` computes a :class:`~core.batchstats.BatchStats` for the reduced
axes named by their roles (``over``):

* **over N, H and W** (a statistic per channel, ``"NHW"``) or **the whole dataset**
  (``"NHWC"``), for z-score and min-max: from :func:`core.stats.dataset_stats` (exact for 8-
  and 16-bit data: correctly rounded mean and std, exact min and max; dask, cache, progress,
  cancel), with images converted as torchvision's loader converts them;
* **any other set with N** (over N only: a statistic per pixel position; N with C; N with H…),
  and the L1, L2, L∞ norms: streamed image by image in float64, in bounded memory (one image
  and the accumulators). Over N alone the accumulation over images is sequential, as numpy
  reduces an outer axis, so the sums, the mean and the std have numpy's bits. A set that keeps
  H or W needs every image to have one size: :func:`image_sizes` reads the headers first and
  a mixed-size dataset is refused with one reason.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from normscope.core.batchstats import BATCH_METHODS, BatchStats
from normscope.core.dataset import ArrayDataset, Dataset, FolderDataset
from normscope.core.loading import LoadError
from normscope.core.methods import NormalizationError
from normscope.core.stats import Cancelled, Progress, dataset_stats, unit_divisor

__all__ = [
    "BatchStatsError",
    "Cancelled",
    "Progress",
    "dataset_batch_stats",
    "image_shapes",
    "same_size_reason",
    "sizes_reason",
    "supported",
    "uses_dataset_stats",
]

#: Roles in the order the letters of ``over`` are written.
_ORDER = "NHWC"


class BatchStatsError(NormalizationError):
    """Statistics over N that cannot be given for this dataset, with the reason."""


def _letters(over: str) -> str:
    return "".join(r for r in _ORDER if r in over.upper())


def _canonical(letters: str, colour: bool) -> str:
    """`letters` as statistics store them: no C without colour, every axis as ``"NHWC"``."""
    if not colour:
        letters = letters.replace("C", "")
    return "NHWC" if letters in ("NHW", "NHWC") and (not colour or "C" in letters) else letters


def uses_dataset_stats(over: str) -> bool:
    """Whether statistics over `over` come from :func:`core.stats.dataset_stats`.

    Those reduce H and W together (one statistic per channel, or one for the dataset).

    >>> uses_dataset_stats("NHW"), uses_dataset_stats("N"), uses_dataset_stats("NHWC")
    (True, False, True)
    """
    letters = _letters(over)
    return letters in ("NHW", "NHWC")


def supported(method: str, over: str, order: float = 2) -> str | None:
    """None when `method` can normalize over `over` with a dataset's statistics, else why not.

    Examples
    --------
    >>> supported("zscore", "NHW") is None, supported("keras", "N") is None
    (True, True)
    >>> supported("keras", "NHW")
    'Keras normalize over 3 axes fails in np.linalg.norm; over N it takes N alone'
    >>> supported("equalize", "N")
    'equalize over N needs every image in memory (z-score, min-max, lp and Keras do not)'
    """
    letters = _letters(over)
    if "N" not in letters:
        return f"{over} does not include the batch axis N"
    if method not in BATCH_METHODS:
        return (
            f"{method} over N needs every image in memory (z-score, min-max, lp and Keras do not)"
        )
    if method == "keras" and len(letters) > 1:
        kind = "a matrix norm" if len(letters) == 2 else "fails in np.linalg.norm"
        if len(letters) == 2:
            return f"Keras normalize over 2 axes computes {kind}, which is not offered over N"
        return f"Keras normalize over {len(letters)} axes {kind}; over N it takes N alone"
    if method in ("lp", "keras") and float(order) not in (1.0, 2.0, math.inf):
        return f"over N the norm order must be 1, 2 or inf, not {order:g}"
    return None


_GREY_MODES = ("1", "L", "LA", "I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def _header_shape(path: str) -> tuple[int, int, int]:
    """``(height, width, channels)`` of an image file from its header, as the loader reads it.

    Channels after torchvision's conversion: 1 for grey, 3 for colour.
    """
    from PIL import Image

    with Image.open(path) as im:
        w, h = im.size
        if im.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # shown turned by a quarter
            w, h = h, w
        return h, w, 1 if im.mode in _GREY_MODES else 3


def image_shapes(
    dataset: Dataset, *, cancel: threading.Event | None = None
) -> Counter[tuple[int, int, int]]:
    """How many images have each ``(height, width, channels)``, from headers (none decoded).

    A folder's channels as torchvision's loader makes them (1 grey, 3 colour); an array's as
    they are. Files whose header cannot be read are left out (reading them says why).

    Examples
    --------
    >>> from normscope.core.dataset import ArrayDataset
    >>> image_shapes(ArrayDataset(np.zeros((5, 4, 3), np.uint8), roles="NHW"))
    Counter({(4, 3, 1): 5})
    """
    if not isinstance(dataset, FolderDataset):  # an array's images: one shape, kept as is
        h, w, *c = dataset.read(0).shape
        return Counter({(h, w, c[0] if c else 1): len(dataset)})
    shapes: Counter[tuple[int, int, int]] = Counter()
    for i in range(len(dataset)):
        if cancel is not None and cancel.is_set():
            raise Cancelled(Progress(i, len(dataset), 0, 1, 0, 0, 0.0))
        try:
            shapes[_header_shape(dataset.path(i))] += 1
        except (OSError, ValueError, SyntaxError):
            continue
    return shapes


def same_size_reason(shapes: Counter[tuple[int, int, int]], dataset: Dataset) -> str | None:
    """None when every image has one size, else why a statistic per pixel cannot be had.

    >>> from normscope.core.dataset import ArrayDataset
    >>> same_size_reason(Counter({(4, 5, 1): 2, (3, 3, 1): 1}), ArrayDataset(np.zeros((2, 2))))
    'over N only (or N with C) needs images of one size; this dataset has 2 sizes'
    """
    sizes = {(h, w) for h, w, _ in shapes}
    if len(sizes) <= 1:
        return None
    what = "folder" if isinstance(dataset, FolderDataset) else "dataset"
    return f"over N only (or N with C) needs images of one size; this {what} has {len(sizes)} sizes"


def sizes_reason(
    dataset: Dataset,
    *,
    progress: Callable[[object], None] | None = None,
    cancel: threading.Event | None = None,
) -> str | None:
    """:func:`same_size_reason` of `dataset`'s :func:`image_shapes`, as a worker's job.

    For a :class:`core.jobs.Worker` (reading 100,000 headers holds the interpreter's lock for
    seconds): it reports no progress and stops when `cancel` is set.

    >>> from normscope.core.dataset import ArrayDataset
    >>> print(sizes_reason(ArrayDataset(np.zeros((5, 4, 3), np.uint8), roles="NHW")))
    None
    """
    return same_size_reason(image_shapes(dataset, cancel=cancel), dataset)


def _as_loaded(image: np.ndarray) -> np.ndarray:
    """An image as torchvision's loader gives it: ``(H, W, C)``, alpha dropped, 1 or 3 bands."""
    a = image.astype(np.uint8) * np.uint8(255) if image.dtype == np.bool_ else image
    if a.ndim == 2:
        return a[..., np.newaxis]
    return a[..., :1] if a.shape[-1] in (1, 2) else a[..., :3]


def _from_dataset_stats(
    dataset: Dataset,
    over: str,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
    cache: str | Path | None,
) -> BatchStats:
    s = dataset_stats(dataset, progress=progress, cancel=cancel, cache=cache, percentiles=())
    chans = [s.overall] if "C" in over else list(s.channels)
    raws = [c.raw for c in chans]
    if any(r is None for r in raws):
        raise BatchStatsError(
            "8- and 16-bit images are mixed: their statistics have no one raw scale"
        )
    colour = len(s.channels) > 1
    shape = (1, 1, len(chans)) if colour else (1, 1)

    def stat(name: str) -> np.ndarray:
        return np.array([getattr(r, name) for r in raws], np.float64).reshape(shape)

    exact = s.dtype in ("uint8", "uint16")
    return BatchStats(
        source=dataset.source,
        roles="NHWC" if colour else "NHW",
        over=_canonical(over, colour),
        images=s.images,
        count=chans[0].count,
        mean=stat("mean"),
        std=stat("std"),
        low=stat("min"),
        high=stat("max"),
        exact="exact, from level counts" if exact else "float64, Chan's parallel update",
        scale=s.scale,
    )


#: Bytes of float64 images one step of a stream holds (an array dataset is read this much at once).
CHUNK_BYTES = 16 << 20


def _after(acc: np.ndarray | None, parts: np.ndarray) -> np.ndarray:
    """`acc` plus every row of `parts`, added one after another (numpy's order over axis 0).

    ``np.add.reduce`` over the outer axis of ``[acc, p0, p1, …]`` adds row by row, so the
    result has the bits of adding image after image, whatever the chunks.
    """
    rows = parts if acc is None else np.concatenate([acc[np.newaxis], parts])
    out: np.ndarray = np.add.reduce(rows, axis=0)
    return out


class _Sums:
    """Per-statistic accumulators over the images of a stream.

    Each is shaped like one image reduced over the image axes of the set (keepdims).
    """

    def __init__(self, axes: tuple[int, ...]) -> None:
        self.axes = tuple(a + 1 for a in axes)  # in a chunk of images, N first
        self.count = 0  # values behind each statistic
        self.images = 0
        self.sum: np.ndarray | None = None
        self.abs: np.ndarray | None = None
        self.sq: np.ndarray | None = None
        self.low = self.high = np.zeros(0)

    def add(self, chunk: np.ndarray) -> None:
        """Images `chunk` ``(n, H, W, C)``, float64, after the ones before."""
        axes = self.axes
        lo = np.minimum.reduce(chunk, axis=(0, *axes), keepdims=True)[0]
        hi = np.maximum.reduce(chunk, axis=(0, *axes), keepdims=True)[0]
        self.sum = _after(self.sum, np.add.reduce(chunk, axis=axes, keepdims=True))
        self.abs = _after(self.abs, np.add.reduce(np.abs(chunk), axis=axes, keepdims=True))
        self.sq = _after(self.sq, np.add.reduce(chunk * chunk, axis=axes, keepdims=True))
        first = self.images == 0
        self.low = lo if first else np.minimum(self.low, lo)
        self.high = hi if first else np.maximum(self.high, hi)
        self.images += len(chunk)
        self.count += math.prod(chunk.shape[i] for i in (0, *axes))


def _chunks(dataset: Dataset, channels: int) -> Iterator[tuple[int, np.ndarray | None]]:
    """The dataset's images as float64 chunks ``(n, H, W, channels)``.

    Each with how many images the step took (None: an unreadable file). Arrays are read a
    range at a time and kept as they are; files one by one, as torchvision's loader reads them.
    """
    if isinstance(dataset, ArrayDataset):
        shape = dataset.image_shape
        step = max(1, CHUNK_BYTES // (8 * math.prod(shape)))
        for start in range(0, len(dataset), step):
            block = dataset.read_range(start, start + step)
            x = block if block.ndim == 4 else block[..., np.newaxis]
            if x.dtype == np.bool_:
                x = x.astype(np.uint8) * np.uint8(255)
            yield len(x), _with_channels(x.astype(np.float64), channels)
        return
    for i in range(len(dataset)):
        try:
            image = _as_loaded(dataset.read(i))
        except LoadError:
            yield 1, None
            continue
        yield 1, _with_channels(image.astype(np.float64)[np.newaxis], channels)


def _with_channels(x: np.ndarray, channels: int) -> np.ndarray:
    """Grey images as `channels` equal ones (torchvision's loader reads them as RGB)."""
    return x if x.shape[3] == channels else np.repeat(x, channels, axis=3)


def _stream(
    dataset: Dataset,
    over: str,
    progress: Callable[[Progress], None] | None,
    cancel: threading.Event | None,
) -> BatchStats:
    """Two passes over the images: sums, extremes and norms; then squared deviations."""
    shapes = image_shapes(dataset, cancel=cancel)
    if not ("H" in over and "W" in over):
        reason = same_size_reason(shapes, dataset)
        if reason is not None:
            raise BatchStatsError(reason)
    channels = max((c for _, _, c in shapes), default=1)
    axes = tuple(i for i, r in enumerate("HWC") if r in over)
    n = len(dataset)
    done = [0]

    def chunks() -> Iterator[np.ndarray]:
        for step, chunk in _chunks(dataset, channels):
            if cancel is not None and cancel.is_set():
                raise Cancelled(Progress(done[0], 2 * n, 0, 1, 0, 0, 0.0))
            done[0] += step
            if progress is not None:
                progress(Progress(done[0], 2 * n, 0, 1, 0, 0, 0.0))
            if chunk is not None:
                yield chunk

    sums = _Sums(axes)
    for chunk in chunks():
        sums.add(chunk)
    if sums.sum is None or sums.abs is None or sums.sq is None:
        raise BatchStatsError("no image of the dataset could be read")
    mean = sums.sum / sums.count
    m2: np.ndarray | None = None
    for chunk in chunks():
        d = chunk - mean
        m2 = _after(m2, np.add.reduce(d * d, axis=sums.axes, keepdims=True))
    std = np.sqrt((np.zeros_like(mean) if m2 is None else m2) / sums.count)
    colour = channels > 1
    first = dataset.read(0) if isinstance(dataset, ArrayDataset) else None
    scale = unit_divisor(first.dtype) if first is not None else _folder_scale(dataset)

    def shaped(a: np.ndarray) -> np.ndarray:
        return a if colour else a[..., 0]

    return BatchStats(
        source=dataset.source,
        roles="NHWC" if colour else "NHW",
        over=_canonical(over, colour),
        images=sums.images,
        count=sums.count,
        mean=shaped(mean),
        std=shaped(std),
        low=shaped(sums.low),
        high=shaped(sums.high),
        norms={
            1.0: shaped(sums.abs),
            2.0: shaped(np.sqrt(sums.sq)),
            math.inf: shaped(np.maximum(np.abs(sums.low), np.abs(sums.high))),
        },
        exact="streamed in float64, image after image",
        scale=scale,
    )


def _folder_scale(dataset: Dataset) -> float:
    """The unit scale's divisor of a folder's first readable image (255 for 8-bit files)."""
    for i in range(len(dataset)):
        try:
            return unit_divisor(dataset.read(i).dtype)
        except LoadError:
            continue
    return 1.0


def dataset_batch_stats(
    dataset: Dataset,
    over: str,
    *,
    method: str = "zscore",
    progress: Callable[[Progress], None] | None = None,
    cancel: threading.Event | None = None,
    cache: str | Path | None = None,
) -> BatchStats:
    """The statistics of `method` over the axes `over` (their roles, with N) of `dataset`.

    Parameters
    ----------
    dataset : Dataset
    over : str
        The reduced axes' roles: ``"NHW"`` (per channel), ``"NHWC"`` (the whole dataset),
        ``"N"`` (per pixel position), ``"NC"``, ``"NH"``…
    method : str, optional
        The method they are for: z-score and min-max over ``"NHW"``/``"NHWC"`` come from
        :func:`core.stats.dataset_stats`; the rest are streamed (norms included).
    progress : callable, optional
        Called with a :class:`~core.stats.Progress` as images are read.
    cancel : threading.Event, optional
        Set it to stop: :class:`~core.stats.Cancelled` is raised.
    cache : path, optional
        :func:`core.stats.dataset_stats`' cache folder.

    Raises
    ------
    BatchStatsError
        When `method` cannot take statistics over `over`, or the dataset does not allow them
        (mixed sizes for a statistic per pixel, mixed bit depths, nothing readable).
    Cancelled

    Examples
    --------
    >>> from normscope.core.dataset import ArrayDataset
    >>> ds = ArrayDataset(np.array([[[0, 2]], [[4, 6]]], np.uint8), roles="NHW")
    >>> b = dataset_batch_stats(ds, "NHW")
    >>> b.images, b.mean.tolist(), b.std.tolist(), b.exact
    (2, [[3.0]], [[2.23606797749979]], 'exact, from level counts')
    >>> dataset_batch_stats(ds, "N").mean.tolist()
    [[2.0, 4.0]]
    """
    reason = supported(method, over)
    if reason is not None:
        raise BatchStatsError(reason)
    if method in ("zscore", "minmax") and uses_dataset_stats(over):
        return _from_dataset_stats(dataset, _letters(over), progress, cancel, cache)
    return _stream(dataset, _letters(over), progress, cancel)
