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
from bench.timing import load, markdown, median_time, meets, row
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


def first_call() -> tuple[float, float, float] | None:
    """What the compiled engine costs a fresh process (seconds): importing numba, the first
    rank_compare (kernels loaded from the cache), the second; None when the check failed."""
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True)
    if out.returncode:
        print(f"fresh-process check failed: {out.stderr.strip().splitlines()[-1]}")
        return None
    imp, first, second = (float(v) for v in out.stdout.split())
    print(row("fresh process: import numba", imp), flush=True)
    print(row("  first rank_compare (kernels from cache)", first, None,
              f"then {second * 1e3:.1f} ms"), flush=True)  # fmt: skip
    return imp, first, second


# label, image, roles, keras axis, scope, the full diff's bound (s), and how much faster than
# scipy's two calls it must be (None: not compared)
CASES = (
    ("4096x4096 keras axis 1", gray_4096, "HW", 1, "all", 1.0, 8.0),
    ("2048x2048x3 keras axis -1", rgb_2048, "HWC", -1, "all", None, None),
    ("60000x28x28 keras axis 1", mnist_batch, "NHW", 1, "image", 3.0, None),
)


def main() -> dict:
    """Time the cases; print their lines and return their numbers (seconds): ``first`` (of
    :func:`first_call`), ``cases`` (each with ``full``, ``stats`` and ``scipy`` or None) and
    ``load``."""
    highest = load()
    fresh = first_call()
    results = []
    for label, make, roles, axis, scope, bound, faster in CASES:
        x = make()
        y = Normalization(method="keras", axis=axis).apply(x, roles=roles)

        def ours(x=x, y=y, scope=scope, roles=roles):
            return rank_compare(x, y, scope=scope, roles=roles)

        def stats(x=x, y=y, scope=scope, roles=roles):
            return rank_diff(x, y, scope=scope, roles=roles)

        full = median_time(ours, reps=3, warmup=1)
        target = "" if bound is None else f"target < {bound:g} s"
        target += f" and >= {faster:g}x scipy" if faster else ""
        print(row(f"{label}: full rank diff ({scope})", full, None, target), flush=True)
        only = median_time(stats, reps=3, warmup=0)
        print(row("  statistics only (rank_diff)", only))
        theirs = None
        if scope == "all":
            t0 = time.perf_counter()
            st.spearmanr(x.ravel(), y.ravel())
            st.kendalltau(x.ravel(), y.ravel())
            theirs = time.perf_counter() - t0
            print(row("  scipy spearmanr + kendalltau (1 run)", theirs, None,
                      f"full diff is x{theirs / full:.1f} faster"), flush=True)  # fmt: skip
        results.append(
            dict(
                label=label,
                scope=scope,
                full=full,
                stats=only,
                scipy=theirs,
                bound=bound,
                faster=faster,
            )
        )
        highest = max(highest, load())
    return dict(first=fresh, cases=results, load=highest)


def readme_table(m: dict) -> str:
    """The README's table of these numbers."""
    rows = []
    for c in m["cases"]:
        result = f"{c['full']:.2f} s (statistics alone {c['stats']:.2f} s)"
        goals, ok = [], True
        if c["scipy"] is not None:
            ratio = c["scipy"] / c["full"]
            result += f"; scipy's two calls {c['scipy']:.1f} s, x{ratio:.1f} slower"
            if c["faster"]:
                goals.append(f"≥ x{c['faster']:g}")
                ok = ok and ratio >= c["faster"]
        if c["bound"] is not None:
            goals.insert(0, f"< {c['bound']:g} s")
            ok = ok and c["full"] < c["bound"]
        target = meets(ok, ", ".join(goals)) if goals else "no stated target"
        rows.append(
            (
                f"full rank diff (statistics and both maps), {c['label']}, scope {c['scope']}",
                result,
                target,
            )
        )
    if m["first"] is not None:
        imp, first, _ = m["first"]
        what = "fresh process: `import numba`, then the first rank diff (kernels from the cache)"
        rows.append((what, f"{imp:.2f} s, {first:.2f} s", "measured, as asked"))
    return markdown(
        "ranks", "medians of 3 (scipy: one run)", m["load"], ("benchmark", "result", "target"), rows
    )


def readme() -> str:
    """Measure, print and return the README's table (``python -m bench --readme ranks``)."""
    return readme_table(main())


if __name__ == "__main__":
    main()
