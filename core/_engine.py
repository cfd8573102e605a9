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


def row_parts(g: int) -> list[tuple[int, int, int, int]]:
    """Rows split into one block per thread: ``(r0, r1, 0, -1)``."""
    cuts = np.linspace(0, g, min(g, threads()) + 1).astype(int)
    return [(int(a), int(b), 0, -1) for a, b in itertools.pairwise(cuts)]


def in_parts(fn: Callable[..., object], parts: list) -> None:
    """``fn(*part)`` for every part, on threads when there are several (the kernels and
    numpy's sort release the GIL)."""
    if len(parts) == 1:
        fn(*parts[0])
        return
    with ThreadPoolExecutor(len(parts)) as pool:
        for f in [pool.submit(fn, *p) for p in parts]:
            f.result()
