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
from bench.timing import interleaved, load, markdown, meets, row
from normscope.core.normalize import Normalization


def cases():
    yield "4096x4096 uint8", gray_4096(), "HW", 0
    yield "2048x2048x3 uint8", rgb_2048(), "HWC", -1
    yield "60000x28x28 uint8", mnist_batch(), "NHW", 1


METHODS = ("keras", "lp", "minmax", "dtype", "zscore", "percentile", "equalize", "meanstd")
PERCENTILE_LIKE = ("percentile", "equalize")  # measured against np.percentile


def target(method: str, out: np.dtype) -> float | None:
    """The ratio `method` must stay within (None: no stated target)."""
    if method == "keras":
        return 8.0
    if method in PERCENTILE_LIKE:
        return 2.0
    return 4.0 if out == np.float32 else None


def main() -> list[dict]:
    """Time every method on every case; print a line for each and return their numbers:
    ``case``, ``method``, ``seconds``, ``ratio`` (to the proxy, or to np.percentile for
    percentile and equalize), ``out`` (the output dtype's name) and ``load``."""
    results = []
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
            if method in PERCENTILE_LIKE:
                over = None if method == "equalize" else axis

                def reference(x=x, over=over):
                    return np.percentile(x, (2, 98), axis=over)

                _, _, ratio = interleaved(run, reference, reps=3)
                words = "of np.percentile"
            else:
                words = f"{out} out"
            bound = target(method, out)
            words += f", target x{bound:g}" if bound else " (no stated target)"
            print(row(f"  {method}", t, ratio, words), flush=True)
            results.append(
                dict(case=label, method=method, seconds=t, ratio=ratio, out=out.name, load=load())
            )
        print(row("  proxy x.astype(float32)/255", base))
    return results


def readme_table(results: list[dict]) -> str:
    """The README's table: a row a method, a column a case, each cell its ratio."""
    labels = list(dict.fromkeys(r["case"] for r in results))
    rows = []
    for method in dict.fromkeys(r["method"] for r in results):
        mine = [r for r in results if r["method"] == method]
        bound = target(method, np.dtype(mine[0]["out"]))
        against = "np.percentile" if method in PERCENTILE_LIKE else "the proxy"
        cells = [f"x{r['ratio']:.2f}" for r in mine]
        met = "no stated target"
        if bound is not None:
            met = meets(all(r["ratio"] <= bound for r in mine), f"≤ x{bound:g} of {against}")
        rows.append(
            (f"{method} ({', '.join(dict.fromkeys(r['out'] for r in mine))} out)", *cells, met)
        )
    return markdown(
        "normalize",
        "medians of 3 interleaved runs, each a ratio to `x.astype(float32) / 255`"
        " (percentile and equalize: to `np.percentile(x, (2, 98))` over the same axis)",
        max(r["load"] for r in results),
        ("method", *labels, "target"),
        rows,
    )


def readme() -> str:
    """Measure, print and return the README's table (``python -m bench --readme normalize``)."""
    return readme_table(main())


if __name__ == "__main__":
    main()
