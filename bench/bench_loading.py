"""Opening the 60000x28x28 batch from .npy: ``core.loading.load`` against ``np.load``.

Target: no more than 20% slower than numpy's own loader (ratio <= 1.2).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from bench.data import mnist_batch
from bench.timing import interleaved, load, markdown, meets, row
from normscope.core.loading import load as load_array

TARGET = 1.2


def main() -> dict[str, float]:
    """Time the load against np.load, print the lines and return the numbers (seconds)."""
    highest = load()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x_train.npy"
        np.save(path, mnist_batch())
        t, base, ratio = interleaved(lambda: load_array(path), lambda: np.load(path), reps=7)
        print(row("load(x_train.npy) 60000x28x28", t, ratio, f"target <= x{TARGET} of np.load"))
        print(row("np.load(x_train.npy)", base))
    return dict(ours=t, base=base, ratio=ratio, load=max(highest, load()))


def readme_table(m: dict[str, float]) -> str:
    """The README's table of these numbers."""
    rows = [
        (
            "`load()` of a 60000x28x28 `.npy` against `np.load`, medians of 7",
            f"{m['ours'] * 1e3:.0f} ms against {m['base'] * 1e3:.0f} ms: x{m['ratio']:.2f}",
            meets(m["ratio"] <= TARGET, f"≤ x{TARGET}"),
        )
    ]
    return markdown("loading", "interleaved", m["load"], ("benchmark", "result", "target"), rows)


def readme() -> str:
    """Measure, print and return the README's table (``python -m bench --readme loading``)."""
    return readme_table(main())


if __name__ == "__main__":
    main()
