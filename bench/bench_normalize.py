"""Normalization speed: each method against the bandwidth proxy ``x.astype(np.float32) / 255``.

Targets on the project's 2-core machine: the bit-exact keras method (float64 out) within 8x
the proxy; float32-output methods within 4x; percentile and equalize within 2x of
``np.percentile`` on the same array. Methods that give float64 for integer input (as the
libraries they follow do) have no stated target; their ratio is printed all the same.
Ratios are measured interleaved, in the same run.
"""

from __future__ import annotations

import numpy as np

from bench.data import gray_4096, mnist_batch, rgb_2048
from bench.timing import interleaved, row
from normscope.core.normalize import Normalization


def cases():
    yield "4096x4096 uint8", gray_4096(), "HW", 0
    yield "2048x2048x3 uint8", rgb_2048(), "HWC", -1
    yield "60000x28x28 uint8", mnist_batch(), "NHW", 1


METHODS = ("keras", "lp", "minmax", "dtype", "zscore", "percentile", "equalize", "meanstd")


def main() -> None:
    for label, x, roles, axis in cases():
        print(f"\n{label} ({roles}), reduced axis {axis}")

        def proxy(x=x):
            return x.astype(np.float32) / np.float32(255)

        for method in METHODS:
            n = Normalization(method=method, axis=axis if method != "equalize" else None)
            if method == "meanstd" and "C" not in roles:
                n = n.with_(mean=(0.5,), std=(0.25,))

            def run(n=n, x=x, roles=roles):
                return n.apply(x, roles=roles)

            t, base, ratio = interleaved(run, proxy, reps=3)
            out = run().dtype
            target = f"{out} out" + (", target x8" if method == "keras" else "")
            if method not in ("keras", "percentile", "equalize"):
                target += ", target x4" if out == np.float32 else " (no stated target)"
            if method in ("percentile", "equalize"):
                over = None if method == "equalize" else axis

                def reference(x=x, over=over):
                    return np.percentile(x, (2, 98), axis=over)

                _, _, pratio = interleaved(run, reference, reps=3)
                target = f"x{pratio:.2f} of np.percentile (target x2)"
            print(row(f"  {method}", t, ratio, target), flush=True)
        print(row("  proxy x.astype(float32)/255", base))


if __name__ == "__main__":
    main()
