"""The run of dataset statistics on dask: progress, cancel, the cache and the merge tree.

The tasks planned by :mod:`core.stats` become dask leaves (a task whose partial is cached
becomes the partial itself) under a tree of merges, computed on the local threads or on a
dask.distributed cluster; each finished leaf is reported (and cached) as it arrives.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from normscope.core._stats_partial import Moments, Partial, StatsError, merge
from normscope.core.dataset import Dataset

if TYPE_CHECKING:
    from dask.delayed import Delayed

_FAN_IN = 8
_CACHE_VERSION = 1


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


class Cancelled(Exception):
    """The run was stopped (cancel event or Ctrl+C); ``progress`` says how far it got."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        super().__init__(
            f"stopped after {progress.images_done:,} of {progress.images_total:,} images"
        )

    def __reduce__(self) -> tuple[type[Cancelled], tuple[Progress]]:
        """Pickled with its progress (a worker process's cancelled job says how far it got)."""
        return Cancelled, (self.progress,)


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
        np.savez(f, **arrays)  # type: ignore[arg-type]  # mypy matches them to allow_pickle too
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
    args: tuple[object, ...]
    images: int
    cache_key: str | None


def _graph(
    dataset: Dataset, tasks: list[_Task], cached: dict[int, Partial], run_id: str
) -> tuple[dict[str, int], Delayed | None]:
    """Leaves (dask.delayed, or cached partials) and the merge tree over them."""
    from dask.delayed import Delayed, delayed

    data = delayed(dataset, name=f"normscope-dataset-{run_id}")
    leaves: dict[str, int] = {}
    level: list[Partial | Delayed] = []
    for i, t in enumerate(tasks):
        if i in cached:
            level.append(cached[i])
            continue
        name = f"normscope-leaf-{run_id}-{i}"
        leaves[name] = i
        level.append(delayed(t.fn, pure=True)(data, *t.args, dask_key_name=name))
    depth = 0  # a lone cached partial gets a merge task too: the root is always a dask object
    while level:
        root = level[0]
        if len(level) == 1 and isinstance(root, Delayed):
            return leaves, root
        level = [
            delayed(merge, pure=True)(
                *level[j : j + _FAN_IN], dask_key_name=f"normscope-merge-{run_id}-{depth}-{j}"
            )
            for j in range(0, len(level), _FAN_IN)
        ]
        depth += 1
    return leaves, None


def _run_id(dataset: Dataset, tasks: list[_Task]) -> str:
    return _key(type(dataset).__name__, dataset.source, len(tasks), time.time_ns())[:12]


def _run_local(
    dataset: Dataset,
    tasks: list[_Task],
    cached: dict[int, Partial],
    done: Callable[[int, Partial], None],
    cancel: threading.Event | None,
    report: Callable[[], Progress],
    address: str | None,
) -> tuple[Partial, int]:
    """Compute the graph on this process's threads (every core).

    Return the merged partial and the number of workers.
    """
    from dask.base import compute
    from dask.callbacks import Callback

    leaves, root = _graph(dataset, tasks, cached, _run_id(dataset, tasks))
    if root is None:
        return Partial(), 0
    workers = os.cpu_count() or 1

    def pretask(key: object, dsk: object, state: object) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled(report())

    def posttask(key: object, result: Partial, dsk: object, state: object, worker: object) -> None:
        if isinstance(key, str) and key in leaves:
            done(leaves[key], result)

    with Callback(pretask=pretask, posttask=posttask):
        (merged,) = compute(root, scheduler="threads", num_workers=workers)
    return merged, workers


def _run_distributed(
    dataset: Dataset,
    tasks: list[_Task],
    cached: dict[int, Partial],
    done: Callable[[int, Partial], None],
    cancel: threading.Event | None,
    report: Callable[[], Progress],
    address: str | None,
) -> tuple[Partial, int]:
    """Compute the graph on the dask.distributed scheduler at `address`.

    Return the merged partial and the number of workers.
    """
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


def _leaf(root: Delayed, name: str) -> Delayed:
    """The delayed leaf called `name` inside `root`'s graph."""
    from dask.delayed import Delayed

    return Delayed(name, root.dask)
