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

This module plans the tasks and runs :func:`dataset_stats`; the parts live in private modules
and are re-exported here: the partial results in ``_stats_partial``, the frozen results and
their code lines in ``_stats_result``, the dask run and the cache in ``_stats_run``.
"""

from __future__ import annotations

import math
import os
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

# the compiled kernels that count levels, reachable as stats._engine (tests turn them off)
from normscope.core import engine as _engine  # noqa: F401
from normscope.core._stats_partial import (
    _EXACT_BITS,
    Moments,
    Partial,
    StatsError,
    block_partial,
    files_partial,
    merge,
    range_partial,
    unit_divisor,
)
from normscope.core._stats_result import (
    DEFAULT_PERCENTILES,
    ChannelStats,
    DatasetStats,
    ScaleStats,
    level_percentiles,
    summarize,
)
from normscope.core._stats_run import (
    Cancelled,
    Progress,
    _key,
    _load,
    _run_distributed,
    _run_local,
    _save,
    _Task,
    default_cache_dir,
)
from normscope.core.dataset import ArrayDataset, Dataset, FileStamp, FolderDataset, NpyDataset
from normscope.core.dataset import open_dataset as _open_dataset
from normscope.core.loading import DEFAULT_MAX_PIXELS

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

#: Bytes of image data one array task reads (a float task converts them to float64 too).
CHUNK_BYTES = 32 << 20
#: Files in one task, on average (a group ends after a file whose name hashes to 0 mod this).
GROUP = 16


# --- the plan: which images each task reads, and its cache key ---------------------------------
# (here, beside GROUP: the plan looks GROUP and files_partial up in this module at each run)


def _file_groups(dataset: FolderDataset, n: int) -> list[list[int]]:
    """Files 0..n-1 cut into groups that stay stable when a file is added.

    A group ends after each file whose name's CRC is 0 mod GROUP, at the end of each folder, and at
    4 GROUP files: adding a file changes only the group it falls in (and one more group when it
    pushes a group over the size limit).
    """
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
    source: str | os.PathLike[str] | np.ndarray | Dataset,
    *,
    unit: bool = False,
    percentiles: Sequence[float] = DEFAULT_PERCENTILES,
    scheduler: str | None = None,
    limit: int | None = None,
    cache: str | os.PathLike[str] | None = None,
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
        cache_key = tasks[i].cache_key
        if folder is not None and cache_key is not None:
            _save(folder, cache_key, p)
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
