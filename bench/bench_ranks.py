"""Rank-diff speed: the full diff (statistics and both maps) against scipy's two calls.

Targets: the 4096x4096 image with its keras axis-1 normalization within 1 s and 8x faster
than ``scipy.stats.spearmanr`` + ``scipy.stats.kendalltau`` on the same data; the
60000x28x28 batch at scope "image" within 3 s. Also printed: the statistics alone, and what
the compiled engine costs a fresh process once (importing numba, loading the cached
kernels on the first call).
"""

from __future__ import annotations

import subprocess
import sys
import time

import scipy.stats as st

from bench.data import gray_4096, mnist_batch, rgb_2048
from bench.timing import median_time, row
from normscope.core.normalize import Normalization
from normscope.core.ranks import rank_compare, rank_diff

FIRST_CALL = """
import time
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
import numpy as np
from normscope.core.ranks import rank_compare
x = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64)
rank_compare(x, x / 7.0)
t2 = time.perf_counter()
rank_compare(x, x / 7.0)
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def first_call() -> None:
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True)
    if out.returncode:
        print(f"fresh-process check failed: {out.stderr.strip().splitlines()[-1]}")
        return
    imp, first, second = (float(v) for v in out.stdout.split())
    print(row("fresh process: import numba", imp), flush=True)
    print(row("  first rank_compare (kernels from cache)", first, None,
              f"then {second * 1e3:.1f} ms"), flush=True)  # fmt: skip


def main() -> None:
    first_call()
    cases = [
        ("4096x4096 keras axis 1", gray_4096(), "HW", 1, "all", "target < 1 s and >= 8x scipy"),
        ("2048x2048x3 keras axis -1", rgb_2048(), "HWC", -1, "all", ""),
        ("60000x28x28 keras axis 1", mnist_batch(), "NHW", 1, "image", "target < 3 s"),
    ]
    for label, x, roles, axis, scope, target in cases:
        y = Normalization(method="keras", axis=axis).apply(x, roles=roles)

        def ours(x=x, y=y, scope=scope, roles=roles):
            return rank_compare(x, y, scope=scope, roles=roles)

        def stats(x=x, y=y, scope=scope, roles=roles):
            return rank_diff(x, y, scope=scope, roles=roles)

        full = median_time(ours, reps=3, warmup=1)
        print(row(f"{label}: full rank diff ({scope})", full, None, target), flush=True)
        print(row("  statistics only (rank_diff)", median_time(stats, reps=3, warmup=0)))
        if scope == "all":
            t0 = time.perf_counter()
            st.spearmanr(x.ravel(), y.ravel())
            st.kendalltau(x.ravel(), y.ravel())
            theirs = time.perf_counter() - t0
            print(row("  scipy spearmanr + kendalltau (1 run)", theirs, None,
                      f"full diff is x{theirs / full:.1f} faster"), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
