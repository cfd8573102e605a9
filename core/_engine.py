"""The compiled kernels (:mod:`core._kernels`, numba), when they can be used here, and the
threads they run on."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np


@functools.cache
def kernels() -> ModuleType | None:
    """The compiled kernels, or None when numba is not installed (numpy paths run then)."""
    try:
        from core import _kernels
    except ImportError:
        return None
    return _kernels


_CORES = max(1, min(4, os.cpu_count() or 1))
_local = threading.local()


def threads() -> int:
    """How many threads core's kernels may use from this thread (all cores, up to 4)."""
    return getattr(_local, "threads", _CORES)


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Let core use at most `n` threads from this thread inside the block, e.g. to leave a
    core free for interactive work while a background job runs."""
    before = threads()
    _local.threads = max(1, min(n, _CORES))
    try:
        yield
    finally:
        _local.threads = before


def row_parts(g: int, per_thread: int = 1) -> list[tuple[int, int, int, int]]:
    """Rows split into `per_thread` blocks per thread: ``(r0, r1, 0, -1)``. Several blocks
    per thread let a thread that runs free take over the work of one held up (on a busy
    machine one of two halves often finishes tens of ms after the other)."""
    blocks = threads() * per_thread if threads() > 1 else 1
    cuts = np.linspace(0, g, min(g, blocks) + 1).astype(int)
    return [(int(a), int(b), 0, -1) for a, b in itertools.pairwise(cuts)]


def in_parts(fn: Callable[..., object], parts: list) -> None:
    """``fn(*part)`` for every part, on up to :func:`threads` threads, each taking the next
    part when it is done with one (the kernels and numpy's sort release the GIL)."""
    if len(parts) == 1 or threads() == 1:
        for part in parts:
            fn(*part)
        return
    with ThreadPoolExecutor(min(len(parts), threads())) as pool:
        for f in [pool.submit(fn, *p) for p in parts]:
            f.result()


def warm_up() -> float:
    """Compile (or load from numba's cache) the kernels the usual inputs need, by running
    core on small gray and RGB images and batches of uint8, uint16 (wide and narrow value
    ranges) and float32; returns the seconds it took.

    ``make run`` and ``make test`` call it once after installing and whenever core changes
    (``python -m core._engine``), so that the window's first rank diff does not wait for the
    compiler (tens of seconds for all kernels; about a second from the cache).
    """
    import time

    start = time.perf_counter()
    compiled = kernels()
    if compiled is not None:  # big rows only, so no small input below reaches it
        halves = np.arange(4, dtype=np.uint64)
        compiled.merge(halves[:2], halves[2:], np.empty_like(halves))
    rng = np.random.default_rng(0)
    for shape, roles in (((24, 20), "HW"), ((24, 20, 3), "HWC"), ((5, 12, 10), "NHW")):
        x8 = rng.integers(0, 256, shape).astype(np.uint8)
        wide, narrow = x8 * np.uint16(257), x8.astype(np.uint16) + np.uint16(1000)
        for x in (x8, wide, narrow, x8 / np.float32(255)):
            _warm(x, roles)
    return time.perf_counter() - start


def _warm(x: np.ndarray, roles: str) -> None:
    from core.histogram import histogram, joint_histogram
    from core.normalize import METHODS, Normalization
    from core.ranks import diagnose, rank_compare

    histogram(x)
    for method in METHODS:
        n = Normalization(method=method, axis=-1 if METHODS[method].uses_axis else "default")
        if method == "meanstd" and "C" not in roles:
            n = n.with_(mean=(0.5,), std=(0.25,))
        y = n.apply(x, roles=roles)
        for after in (y, y.astype(np.float32)):
            rank_compare(x, after, roles=roles)
            diagnose(x, after, roles=roles)
            histogram(after)
            joint_histogram(x, after)


if __name__ == "__main__":
    print(f"NormScope's compiled kernels are ready ({warm_up():.1f} s)")
