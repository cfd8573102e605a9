"""Rank-diff speed: the full diff (statistics and both maps) against scipy's two calls.

Targets: the 4096x4096 image with its keras axis-1 normalization within 1 s and 8x faster
than ``scipy.stats.spearmanr`` + ``scipy.stats.kendalltau`` on the same data; the
60000x28x28 batch at scope "image" within 3 s.
"""

from __future__ import annotations

import time

import scipy.stats as st

from bench.data import gray_4096, mnist_batch, rgb_2048
from bench.timing import median_time, row
from core.normalize import Normalization
from core.ranks import rank_compare


def full(x, y, scope, roles):
    return rank_compare(x, y, scope=scope, roles=roles)


def scipy_pair(x, y):
    st.spearmanr(x.ravel(), y.ravel())
    st.kendalltau(x.ravel(), y.ravel())


def main() -> None:
    cases = [
        ("4096x4096 keras axis 1", gray_4096(), "HW", 1, "all", "target < 1 s and >= 8x scipy"),
        ("2048x2048x3 keras axis -1", rgb_2048(), "HWC", -1, "all", ""),
        ("60000x28x28 keras axis 1", mnist_batch(), "NHW", 1, "image", "target < 3 s"),
    ]
    for label, x, roles, axis, scope, target in cases:
        y = Normalization(method="keras", axis=axis).apply(x, roles=roles)

        def ours_once(x=x, y=y, scope=scope, roles=roles):
            return full(x, y, scope, roles)

        ours = median_time(ours_once, reps=1, warmup=0)
        print(row(f"{label}: full rank diff ({scope})", ours, None, target), flush=True)
        if scope == "all":
            t0 = time.perf_counter()
            scipy_pair(x, y)
            theirs = time.perf_counter() - t0
            print(row("  scipy spearmanr + kendalltau (1 run)", theirs, None,
                      f"ours is x{theirs / ours:.1f} faster"), flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
