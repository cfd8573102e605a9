"""Compile (or load from numba's cache) the kernels that the usual inputs need.

``python -m normscope.core.warmup`` runs it; ``make run`` and ``make test`` do so once after
installing and whenever core changes; the window runs :func:`warm_up_in_background` as it
opens, and computes in numpy until the kernels are ready.
"""

from __future__ import annotations

import threading
import time

import numpy as np

from normscope.core.display import quantize
from normscope.core.engine import defer_kernels, kernels
from normscope.core.histogram import histogram, joint_histogram
from normscope.core.normalize import METHODS, Normalization
from normscope.core.ranks import diagnose, rank_compare

__all__ = ["warm_up", "warm_up_in_background"]


def warm_up() -> float:
    """Compile (or load from numba's cache) the kernels the usual inputs need.

    Runs core on small gray and RGB images and batches of uint8, uint16 (wide and narrow value
    ranges) and float32; returns the seconds it took.

    Run ahead of use, it spares the window's first rank diff the compiler's wait (tens of
    seconds for all kernels; about a second from numba's cache).
    """
    start = time.perf_counter()
    compiled = kernels()
    if compiled is not None:  # big rows only, so no small input below reaches it
        halves = np.arange(4, dtype=np.uint64)
        compiled.merge(halves[:2], halves[2:], np.empty_like(halves))
    rng = np.random.default_rng(0)
    for shape, roles in (((24, 20), "HW"), ((24, 20, 3), "HWC"), ((5, 12, 10), "NHW")):
        x8 = rng.integers(0, 256, shape).astype(np.uint8)
        wide, narrow = x8 * np.uint16(257), x8.astype(np.uint16) + np.uint16(1000)
        for x in (x8, wide, narrow, x8 / np.float32(255), x8 / 255.0):
            if x.dtype != np.float64:  # float64 data: only z-score's kernel takes it
                _warm(x, roles)
            for axis in (0, None):  # groups side by side, and one contiguous group
                Normalization(method="zscore", axis=axis).apply(x, roles=roles)
    # one group long enough for its pairwise sums' subtrees on the threads
    Normalization(method="zscore", axis=None).apply(np.zeros((320, 320), np.uint8), roles="HW")
    return time.perf_counter() - start


def warm_up_in_background() -> threading.Thread:
    """Run :func:`warm_up` on a new daemon thread.

    The kernels are held back from every other thread until it is done (see
    :func:`core.engine.defer_kernels`): they compute in numpy meanwhile, with the same results,
    rather than wait for numba's compiler.

    Examples
    --------
    >>> thread = warm_up_in_background()
    >>> thread.join()
    >>> kernels() is not None
    True
    """
    holding = threading.Event()

    def warm() -> None:
        with defer_kernels():
            holding.set()
            warm_up()

    thread = threading.Thread(target=warm, name="normscope-warm-up", daemon=True)
    thread.start()
    holding.wait()  # held back before the caller computes anything
    return thread


def _warm(x: np.ndarray, roles: str) -> None:
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
            quantize(after, (0.0, 1.0), 256)  # the window's pictures


if __name__ == "__main__":
    print(f"NormScope's compiled kernels are ready ({warm_up():.1f} s)")
