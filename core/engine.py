"""Compiled kernels (:mod:`core._kernels`, numba), when they can be used, and their threads."""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from types import ModuleType

import numpy as np

_CORES = max(1, min(4, os.cpu_count() or 1))
_local = threading.local()


def kernels() -> ModuleType | None:
    """The compiled kernels, or None when they are not to be used.

    None when numba is not installed (numpy paths run then), or while :func:`defer_kernels` holds
    them back from this thread.
    """
    if getattr(_local, "numpy_only", False):
        return None
    if _held.is_set() and not getattr(_local, "warming", False):
        return None
    return _load()


#: Values below which a process that has not loaded numba computes in numpy: loading it
#: (half a second or more) costs more than its loops save on so little data.
SMALL = 1 << 18


@contextlib.contextmanager
def kernels_for(values: int) -> Iterator[None]:
    """Compute small inputs in numpy on this thread inside the block.

    Inside the block, this thread computes `values` values in numpy (:func:`kernels` gives None; the
    numpy twins give the same results) when they are fewer than :data:`SMALL` and numba is not
    loaded yet; with the kernels otherwise.

    Examples
    --------
    >>> with kernels_for(10):
    ...     kernels() is None or "numba" in sys.modules
    True
    """
    before = getattr(_local, "numpy_only", False)
    _local.numpy_only = before or (values < SMALL and "numba" not in sys.modules)
    try:
        yield
    finally:
        _local.numpy_only = before


@functools.cache
def _load() -> ModuleType | None:
    try:
        from normscope.core import _kernels
    except ImportError:
        return None
    return _kernels


_held = threading.Event()  # set: kernels() gives None, except on a thread that is warming up


@contextlib.contextmanager
def defer_kernels() -> Iterator[Callable[[], None]]:
    """Hold the compiled kernels back from every other thread while this one loads them.

    Inside the block, :func:`kernels` gives None on other threads, so the numpy twins run, with the
    same results, while this thread loads or compiles the kernels; the block's value, called,
    releases them early. Released at the end.

    A window uses it to stay usable while numba compiles on a background thread: its first
    images are computed in numpy rather than waiting for the compiler.

    Examples
    --------
    >>> seen = []
    >>> with defer_kernels():
    ...     other = threading.Thread(target=lambda: seen.append(kernels()))
    ...     other.start()
    ...     other.join()
    >>> seen
    [None]
    """
    _held.set()
    _local.warming = True
    try:
        yield _held.clear
    finally:
        _local.warming = False
        _held.clear()


def threads() -> int:
    """How many threads core's kernels may use from this thread (all cores, up to 4)."""
    return getattr(_local, "threads", _CORES)


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[None]:
    """Let core use at most `n` threads from this thread inside the block.

    For example, to leave a core free for interactive work while a background job runs.
    """
    before = threads()
    _local.threads = max(1, min(n, _CORES))
    try:
        yield
    finally:
        _local.threads = before


def row_parts(g: int, per_thread: int = 1) -> list[tuple[int, int, int, int]]:
    """Rows split into `per_thread` blocks per thread: ``(r0, r1, 0, -1)``.

    Several blocks per thread let a thread that runs free take over the work of one held up (on a
    busy machine one of two halves often finishes tens of ms after the other).
    """
    blocks = threads() * per_thread if threads() > 1 else 1
    cuts = np.linspace(0, g, min(g, blocks) + 1).astype(int)
    return [(int(a), int(b), 0, -1) for a, b in itertools.pairwise(cuts)]


def group_parts(
    outer: int, inner: int, per_thread: int = 8, *, rows_only: bool = False
) -> list[tuple[int, int, int, int]]:
    """Blocks of an (outer, m, inner) array's groups for the threads: ``(o0, o1, i0, i1)``.

    Split along the outer rows when there are at least as many as threads, else along the
    groups that sit side by side (``inner``): a statistic over the image's rows of an HWC image
    is one outer row of 6,144 groups, which one thread would otherwise compute alone. Groups
    are split in blocks of at least 64 (fewer would read the same rows on every thread).
    `rows_only`: whole outer rows, for kernels that keep per-row tables.

    Examples
    --------
    >>> with limit_threads(2):
    ...     group_parts(1, 6144, 2)
    [(0, 1, 0, 1536), (0, 1, 1536, 3072), (0, 1, 3072, 4608), (0, 1, 4608, 6144)]
    """
    blocks = threads() * per_thread if threads() > 1 else 1
    if outer >= threads() or inner < 64 * blocks or rows_only:  # blocks of 64 groups or more
        cuts = np.linspace(0, outer, min(outer, blocks) + 1).astype(int)
        return [(int(a), int(b), 0, inner) for a, b in itertools.pairwise(cuts)]
    cuts = np.linspace(0, inner, min(inner, blocks) + 1).astype(int)
    return [(0, outer, int(a), int(b)) for a, b in itertools.pairwise(cuts)]


#: Values below which an elementwise pass stays on one thread (a pool costs more).
_BLOCK_MIN = 1 << 16


def block_parts(
    outer: int, m: int, inner: int, per_thread: int = 2
) -> list[tuple[int, int, int, int, int, int]]:
    """Blocks of an (outer, m, inner) array for a pass over its values.

    Each is ``(o0, o1, 0, inner, j0, j1)``.

    Along the outer rows when there are enough for every block, else each outer row cut along
    its m values: a pass over one to three groups (a statistic per channel, or over the whole
    image) then runs on every thread too.

    Examples
    --------
    >>> with limit_threads(2):
    ...     block_parts(1, 100_000, 3, per_thread=1)
    [(0, 1, 0, 3, 0, 50000), (0, 1, 0, 3, 50000, 100000)]
    """
    blocks = threads() * per_thread if threads() > 1 else 1
    if outer * m * inner < _BLOCK_MIN:
        blocks = 1
    if outer >= blocks:
        cuts = np.linspace(0, outer, blocks + 1).astype(int)
        return [(int(a), int(b), 0, inner, 0, m) for a, b in itertools.pairwise(cuts)]
    cuts = np.linspace(0, m, min(m, -(-blocks // outer)) + 1).astype(int)
    return [
        (o, o + 1, 0, inner, int(a), int(b))
        for o in range(outer)
        for a, b in itertools.pairwise(cuts)
    ]


def in_parts(fn: Callable[..., object], parts: Sequence[tuple[object, ...]]) -> None:
    """``fn(*part)`` for every part, on up to :func:`threads` threads.

    Each thread takes the next part when it is done with one (the kernels and numpy's sort release
    the GIL).
    """
    if len(parts) == 1 or threads() == 1:
        for part in parts:
            fn(*part)
        return
    with ThreadPoolExecutor(min(len(parts), threads())) as pool:
        for f in [pool.submit(fn, *p) for p in parts]:
            f.result()
